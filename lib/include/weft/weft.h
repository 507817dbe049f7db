/* libweft: an epoll reactor library. One include for all of it. */
#ifndef WEFT_WEFT_H
#define WEFT_WEFT_H

#include <weft/defs.h>
#include <weft/log.h>
#include <weft/loop.h>
#include <weft/signal.h>
#include <weft/thread.h>
#include <weft/timer.h>

#endif

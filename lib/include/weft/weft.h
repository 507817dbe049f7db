/* libweft: an epoll reactor library. One include for all of it. */
#ifndef WEFT_WEFT_H
#define WEFT_WEFT_H

#include <weft/addr.h>
#include <weft/buffer.h>
#include <weft/conn.h>
#include <weft/connect.h>
#include <weft/defs.h>
#include <weft/frame.h>
#include <weft/handler.h>
#include <weft/listener.h>
#include <weft/log.h>
#include <weft/loop.h>
#include <weft/server.h>
#include <weft/signal.h>
#include <weft/thread.h>
#include <weft/timer.h>
#include <weft/udp.h>

#endif

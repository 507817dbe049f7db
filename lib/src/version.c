/* wf_version(): the library's own version, whatever the program saw. */
#include "weft/defs.h"

int
wf_version(void)
{
	return WF_VERSION;
}

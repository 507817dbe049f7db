// Every public header from C++: compiles with -Wall -Wextra -Werror and
// links (extern "C"), and the version the program was built with is the
// one it runs with.
#include <weft/weft.h>

#include <cstdio>

int
main()
{
	wf_loop *loop;

	if (wf_loop_new(&loop) < 0)
		return 1;
	wf_loop_free(loop);
	std::printf("%d.%d.%d %d\n", WF_VERSION_MAJOR, WF_VERSION_MINOR,
	    WF_VERSION_PATCH, wf_version());
	return wf_version() == WF_VERSION ? 0 : 1;
}

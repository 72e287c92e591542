/*
 * trivial: the startup benchmark's yardstick.  A dynamically linked C
 * program that does what wstunnel does first, read fd 0, and exits: the
 * cost of fork, exec, the dynamic loader and libc, and nothing else.
 */
#include <unistd.h>

int
main(void)
{
	char c;

	return read(0, &c, 1) < 0;
}

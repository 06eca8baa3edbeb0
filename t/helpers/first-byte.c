/* first-byte: time from starting a command to the first byte on its standard
 * output, for the phala-proxy bench ("set-up to first byte").
 *   first-byte CMD [ARG...]
 * Runs CMD with stdin /dev/null and stdout a pipe; prints the microseconds
 * until the first byte arrived, then lets CMD finish (its time to exit is not
 * counted: openssl s_client, for one, sleeps 50 ms while closing). Exit 0 when
 * a byte arrived and CMD exited 0, else 1. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int main(int argc, char **argv)
{
	int p[2];
	if (argc < 2 || pipe(p))
		return 2;
	long long start = now_us();
	pid_t pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);
		if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(p[1], 1) < 0)
			_exit(127);
		close(p[0]);
		close(p[1]);
		execvp(argv[1], argv + 1);
		_exit(127);
	}
	close(p[1]);
	char c;
	ssize_t n;
	while ((n = read(p[0], &c, 1)) < 0)
		;
	long long t = now_us() - start;
	char buf[4096];
	while (read(p[0], buf, sizeof buf) > 0)
		;
	int status = 0;
	waitpid(pid, &status, 0);
	if (n != 1 || !WIFEXITED(status) || WEXITSTATUS(status))
		return 1;
	printf("%lld\n", t);
	return 0;
}

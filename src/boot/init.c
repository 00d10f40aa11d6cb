/*
 * vmamatrix's /init: built per architecture from the kernel tree's own
 * tools/include/nolibc, so no target libc is needed. Prints a start marker,
 * execs itself once in a vfork()ed child (so a process's mm is created and
 * torn down, on NOMMU kernels too), runs /vma (the tools/testing/vma tests)
 * when present, then the kernel selftests listed in /selftests.list when
 * present, then /workload (the VMA stress workload, for
 * VMAMATRIX_WORKLOAD_SECS seconds) when present, prints a result marker with
 * the vma tests' exit status, then powers off.
 *
 * /selftests.list has one test per line:
 *   <name> <timeout secs> <binary> [KEY=VALUE ...] -- [arg ...]
 * Each runs in its own process group in /tmp, between
 *   VMAMATRIX-SELFTEST-START <name>
 *   VMAMATRIX-SELFTEST-END <name> <exit status | signal:N | timeout:S>
 */
#define PAYLOAD "/vma"
#define WORKLOAD "/workload"
#ifndef VMAMATRIX_WORKLOAD_SECS
#define VMAMATRIX_WORKLOAD_SECS "5"
#endif

/* vfork() as an inline syscall: the child must not return from a function
 * whose stack frame the suspended parent still needs.
 */
static pid_t vfork_inline(void)
{
#if defined(__NR_clone) && !defined(__s390x__)
	return __nolibc_syscall5(__NR_clone, CLONE_VM | CLONE_VFORK | SIGCHLD, 0, 0, 0, 0);
#else
	return vfork();
#endif
}

#ifdef VMAMATRIX_PAYLOAD
#define SELFTESTS "/selftests.list"
#define MAX_WORDS 32

static char list[8192];

/* What the selftests need of a guest: /proc, /sys, /dev, a writable /tmp,
 * and overcommit (mremap_test maps 2 GiB it never touches).
 */
static void selftest_guest(void)
{
	int fd;

	mkdir("/proc", 0755);
	mount("proc", "/proc", "proc", 0, NULL);
	mkdir("/sys", 0755);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	mkdir("/tmp", 01777);
	fd = open("/proc/sys/vm/overcommit_memory", O_WRONLY);
	if (fd >= 0) {
		write(fd, "1", 1);
		close(fd);
	}
}

/* Run one line of the list; returns after the test ended or was killed. */
static void selftest(char *line)
{
	char *w[MAX_WORDS + 1], *argv[MAX_WORDS + 1], *envp[MAX_WORDS + 1];
	int n = 0, a = 0, e = 0, i, st = 0;
	long timeout, waited = 0;
	pid_t pid;

	while (*line && n < MAX_WORDS) {
		while (*line == ' ')
			*line++ = 0;
		if (!*line)
			break;
		w[n++] = line;
		while (*line && *line != ' ')
			line++;
	}
	if (n < 3)
		return;
	timeout = atol(w[1]);
	argv[a++] = w[2];
	for (i = 3; i < n && strcmp(w[i], "--"); i++)
		envp[e++] = w[i];
	for (i++; i < n; i++)
		argv[a++] = w[i];
	argv[a] = NULL;
	envp[e] = NULL;
	printf("VMAMATRIX-SELFTEST-START %s\n", w[0]);
	pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		chdir("/tmp");
		execve(argv[0], argv, envp);
		_exit(127);
	}
	if (pid < 0) {
		printf("\nVMAMATRIX-SELFTEST-END %s 127\n", w[0]);
		return;
	}
	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (waited >= timeout * 10) {
			kill(-pid, SIGKILL);
			waitpid(pid, &st, 0);
			printf("\nVMAMATRIX-SELFTEST-END %s timeout:%ld\n", w[0], timeout);
			return;
		}
		msleep(100);
		waited++;
	}
	/* Grandchildren the test left behind die with its group. */
	kill(-pid, SIGKILL);
	if (WIFEXITED(st))
		printf("\nVMAMATRIX-SELFTEST-END %s %d\n", w[0], WEXITSTATUS(st));
	else
		printf("\nVMAMATRIX-SELFTEST-END %s signal:%d\n", w[0], WTERMSIG(st));
}

static void selftests(void)
{
	int fd = open(SELFTESTS, O_RDONLY);
	long len = 0, r;
	char *line, *next;

	if (fd < 0)
		return;
	while (len < (long)sizeof(list) - 1 &&
	       (r = read(fd, list + len, sizeof(list) - 1 - len)) > 0)
		len += r;
	close(fd);
	list[len] = 0;
	selftest_guest();
	for (line = list; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		selftest(line);
	}
}
#endif

/* Run /workload to its end in a vfork()ed child; print its exit status. */
static void workload(void)
{
	char *args[] = { WORKLOAD, VMAMATRIX_WORKLOAD_SECS, NULL };
	char *env[] = { NULL };
	int st = 0;
	pid_t pid;

	if (access(WORKLOAD, X_OK) != 0)
		return;
	pid = vfork_inline();
	if (pid == 0) {
		execve(WORKLOAD, args, env);
		_exit(127);
	}
	if (pid > 0 && waitpid(pid, &st, 0) == pid)
		printf("VMAMATRIX-WORKLOAD-EXIT %d\n",
		       WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	else
		printf("VMAMATRIX-WORKLOAD-EXIT -1\n");
}

static void self_exec(void)
{
	char *args[] = { "/init", "child", NULL };
	char *env[] = { NULL };
	int st = 0;
	pid_t pid = vfork_inline();

	if (pid == 0) {
		execve("/init", args, env);
		_exit(127);
	}
	if (pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st))
		printf("VMAMATRIX-CHILD %d\n", WEXITSTATUS(st));
	else
		printf("VMAMATRIX-CHILD failed\n");
}

/* binfmt_flat on arm (CONFIG_BINFMT_FLAT_ARGVP_ENVP_ON_STACK, which m68k
 * and sh select too) puts pointers to argv and envp after argc, where
 * nolibc's _start expects the arrays themselves. */
#ifdef VMAMATRIX_FLAT_ARGVP
#define FLAT_ARGS(argv) do { environ = (char **)(argv)[1]; (argv) = (char **)(argv)[0]; } while (0)
#else
#define FLAT_ARGS(argv) do { } while (0)
#endif

int main(int argc, char **argv)
{
	FLAT_ARGS(argv);
	int status = 0;

	if (argc > 1 && !strcmp(argv[1], "child"))
		return 0;

	printf("\nVMAMATRIX-INIT-START\n");
	self_exec();
#ifdef VMAMATRIX_PAYLOAD
	if (access(PAYLOAD, X_OK) == 0) {
		pid_t pid = fork();

		if (pid == 0) {
			char *args[] = { PAYLOAD, NULL };
			char *env[] = { NULL };

			execve(PAYLOAD, args, env);
			printf("VMAMATRIX: exec %s failed\n", PAYLOAD);
			exit(127);
		}
		if (pid < 0 || waitpid(pid, &status, 0) < 0)
			status = 126 << 8;
		status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	}
	selftests();
#endif
	workload();
	printf("VMAMATRIX-RESULT %d\n", status);
	reboot(LINUX_REBOOT_CMD_POWER_OFF);
	for (;;)
		sleep(1);
	return 0;
}

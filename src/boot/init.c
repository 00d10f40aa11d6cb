/*
 * vmamatrix's /init: built per architecture from the kernel tree's own
 * tools/include/nolibc, so no target libc is needed. Prints a start marker,
 * execs itself once in a vfork()ed child (so a process's mm is created and
 * torn down, on NOMMU kernels too), runs /vma (the tools/testing/vma tests)
 * when present, then /workload (the VMA stress workload, for
 * VMAMATRIX_WORKLOAD_SECS seconds) when present, prints a result marker with
 * the vma tests' exit status, then powers off.
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

int main(int argc, char **argv)
{
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
#endif
	workload();
	printf("VMAMATRIX-RESULT %d\n", status);
	reboot(LINUX_REBOOT_CMD_POWER_OFF);
	for (;;)
		sleep(1);
	return 0;
}

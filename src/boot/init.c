/*
 * vmamatrix's /init: built per architecture from the kernel tree's own
 * tools/include/nolibc, so no target libc is needed. Prints a start marker,
 * runs /vma (the tools/testing/vma tests) when present, prints a result
 * marker with its exit status, then powers off.
 */
#define PAYLOAD "/vma"

int main(int argc, char **argv)
{
	int status = 0;

	printf("\nVMAMATRIX-INIT-START\n");
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
	printf("VMAMATRIX-RESULT %d\n", status);
	reboot(LINUX_REBOOT_CMD_POWER_OFF);
	for (;;)
		sleep(1);
	return 0;
}

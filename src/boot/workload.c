/*
 * vmamatrix's guest workload: a bounded-time stress of the VMA code, built
 * like init.c from the kernel tree's nolibc. It aims at per-VMA locking:
 * threads of one mm fault pages in (taking a VMA's lock) while another
 * thread splits, merges, moves and unmaps VMAs of the same mm, a third reads
 * /proc/self/maps and smaps, and the main thread forks and execs. Built with
 * -DVMAMATRIX_NOMMU it does what a NOMMU kernel offers instead: no faults,
 * no mprotect or madvise, mremap only shrinks in place, vfork in place of
 * fork.
 *
 * Usage: workload [seconds]   (default 5; "workload child" is the exec test)
 *
 * Output, one line each, in this order (N: unsigned decimal):
 *   VMAMATRIX-WORKLOAD-START <mmu|nommu>
 *   VMAMATRIX-VMSTAT-BEFORE vma_lock_success=N vma_lock_abort=N vma_lock_retry=N vma_lock_miss=N
 *   VMAMATRIX-WORKLOAD-OP <kind> ops=N failed=N        (once per kind)
 *   VMAMATRIX-VMSTAT-AFTER vma_lock_success=N vma_lock_abort=N vma_lock_retry=N vma_lock_miss=N
 *   VMAMATRIX-WORKLOAD-END ops=N failed=N
 * A VMSTAT line reads "VMAMATRIX-VMSTAT-BEFORE absent" (or -AFTER) when
 * /proc/vmstat lacks any of the four (CONFIG_PER_VMA_LOCK_STATS=n; always
 * so on NOMMU). Between START and END there may also be
 *   VMAMATRIX-WORKLOAD-FAIL <kind> <step> <value>     (first 5 per thread)
 *   VMAMATRIX-WORKLOAD-NOTE <text>
 * where <value> is a syscall's return (-errno), a wait status or the index
 * of a page holding the wrong data.
 * END sums the OP lines. Exit status: 0 when no operation failed, else 1.
 * Kinds, in output order (the last three with an MMU only):
 *   clone     a thread started (its stack mapped, then clone())
 *   touch     a shared page written and read back (with an MMU: faulted in)
 *   mmap      a fresh mapping (with an MMU also MAP_FIXED over live pages)
 *   munmap    a mapping split by partial munmap (with an MMU: a hole refilled)
 *   mremap    shrunk in place (with an MMU also grown and moved)
 *   maps      /proc/self/maps or (with an MMU) smaps read through
 *   exec      vfork, exec of /proc/self/exe as "child", exit status 0
 *   dontneed  MADV_DONTNEED, after which the pages read back zero
 *   mprotect  VMAs split by a protection change and merged back
 *   fork      a child writing the shared region (copy on write), status 0
 */
#define NR_TOUCHERS	2
#define NR_THREADS	(NR_TOUCHERS + 2)	/* + mutator + reader */
#define STACK_SIZE	(64 * 1024)
#define R_PAGES		32	/* shared: touched by all, never unmapped */
#define M_PAGES		8	/* the mutator's own */
#define MAGIC(i)	(0x5a5a0000UL + (i))
#define THREAD_FLAGS	(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | \
			 CLONE_THREAD | CLONE_SYSVSEM)

enum op {
	OP_CLONE, OP_TOUCH, OP_MMAP, OP_MUNMAP, OP_MREMAP, OP_MAPS, OP_EXEC,
#ifndef VMAMATRIX_NOMMU
	OP_DONTNEED, OP_MPROTECT, OP_FORK,
#endif
	NR_OPS
};

static const char *const op_name[NR_OPS] = {
	[OP_CLONE] = "clone", [OP_TOUCH] = "touch", [OP_MMAP] = "mmap",
	[OP_MUNMAP] = "munmap", [OP_MREMAP] = "mremap", [OP_MAPS] = "maps",
	[OP_EXEC] = "exec",
#ifndef VMAMATRIX_NOMMU
	[OP_DONTNEED] = "dontneed", [OP_MPROTECT] = "mprotect",
	[OP_FORK] = "fork",
#endif
};

static const char *const lock_stat[] = {
	"vma_lock_success", "vma_lock_abort", "vma_lock_retry", "vma_lock_miss",
};

/* Per thread, so counting needs no atomic read-modify-write: clang makes
 * those calls to compiler-rt helpers on arm64 (outline atomics), which
 * -nostdlib does not link.
 */
struct worker {
	unsigned long ops[NR_OPS], failed[NR_OPS];
	int shown, started, done;
};

static struct worker workers[NR_THREADS + 1];	/* the last is main's */
static struct worker *newborn;	/* handed to the next thread spawned */
static int stop;
static long ps;		/* page size */
static char *shared;	/* R_PAGES pages */
static char vmstat_buf[32768], maps_buf[65536];

/* One write() per line, so lines of different threads do not interleave. */
static __attribute__((format(printf, 1, 2))) void say(const char *fmt, ...)
{
	char line[256];
	va_list args;
	int len;

	va_start(args, fmt);
	len = vsnprintf(line, sizeof(line), fmt, args);
	va_end(args);
	if (len >= (int)sizeof(line)) {
		/* Cut: still one line, so the next marker starts its own. */
		len = sizeof(line) - 1;
		line[len - 1] = '\n';
	}
	_sys_write(1, line, len);
}

/* Count a failed operation; returns -1 for the caller to pass on. */
static int fail(struct worker *w, enum op op, const char *step, long value)
{
	w->failed[op]++;
	if (w->shown++ < 5)
		say("VMAMATRIX-WORKLOAD-FAIL %s %s %ld\n", op_name[op], step, value);
	return -1;
}

/* volatile: every check must read memory, not the value just written. */
static volatile unsigned long *word(char *base, long page)
{
	return (volatile unsigned long *)(base + page * ps);
}

static void fill(char *base, long from, long to)
{
	for (; from < to; from++)
		*word(base, from) = MAGIC(from);
}

/* Pages [from, to) must hold MAGIC(page), or zero when @zero. */
static int check(struct worker *w, enum op op, char *base, long from, long to,
		 int zero)
{
	for (; from < to; from++)
		if (*word(base, from) != (zero ? 0 : MAGIC(from)))
			return fail(w, op, zero ? "not-zero" : "contents", from);
	return 0;
}

static char *map(long len, int prot)
{
	return _sys_mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

static int bad_ptr(void *p)
{
	return (unsigned long)p >= -4095UL;
}

/* Reads up to @size - 1 bytes of @path into @buf, NUL-terminated. The
 * _sys_ calls return -errno instead of setting nolibc's errno, which is one
 * variable for all threads.
 */
static long slurp(const char *path, char *buf, long size)
{
	long len = 0, n = 1;
	int fd = _sys_open(path, O_RDONLY, 0);

	if (fd < 0)
		return fd;
	while (len < size - 1 && (n = _sys_read(fd, buf + len, size - 1 - len)) > 0)
		len += n;
	_sys_close(fd);
	buf[len] = 0;
	return n < 0 ? n : len;
}

/* clone()'s first two arguments trade places on s390 (CLONE_BACKWARDS2). */
#if defined(__s390__)
#define raw_clone(flags, sp)	__nolibc_syscall5(__NR_clone, sp, flags, 0, 0, 0)
#else
#define raw_clone(flags, sp)	__nolibc_syscall5(__NR_clone, flags, sp, 0, 0, 0)
#endif

/* vfork() as an inline syscall, as in init.c: the child must not return
 * from a function whose stack frame the suspended parent still needs.
 */
#define vfork_inline()	raw_clone(CLONE_VM | CLONE_VFORK | SIGCHLD, 0)

#ifndef VMAMATRIX_NOMMU
/* nolibc has neither. */
#define sys_mprotect(p, len, prot)	__nolibc_syscall3(__NR_mprotect, p, len, prot)
#define sys_madvise(p, len, advice)	__nolibc_syscall3(__NR_madvise, p, len, advice)
#endif

static int stopped(void)
{
	return __atomic_load_n(&stop, __ATOMIC_RELAXED);
}

/* Every page of the shared region, again and again: with an MMU each round
 * first drops the page, so the next access faults in a fresh one while the
 * mutator splits and merges the region's VMA.
 */
static void toucher(struct worker *w, long id)
{
	unsigned long pass, v;
	long i;

	for (pass = 1; !stopped(); pass++) {
		for (i = id; i < R_PAGES; i += NR_TOUCHERS) {
#ifndef VMAMATRIX_NOMMU
			long r = sys_madvise(shared + i * ps, ps, MADV_DONTNEED);

			w->ops[OP_DONTNEED]++;
			if (r)
				fail(w, OP_DONTNEED, "madvise", r);
			else if (*word(shared, i))
				fail(w, OP_DONTNEED, "not-zero", i);
#endif
			v = pass * R_PAGES + i;
			w->ops[OP_TOUCH]++;
			*word(shared, i) = v;
			if (*word(shared, i) != v)
				fail(w, OP_TOUCH, "contents", i);
		}
#ifdef VMAMATRIX_NOMMU
		/* Without faults a pass takes no time: yield rather than
		 * spin the CPU away from the mutator and the reader.
		 */
		sched_yield();
#endif
	}
}

/* A fresh mapping, shrunk by mremap in place, split by munmap in the
 * middle, trimmed at both ends and unmapped piece by piece: all of which a
 * NOMMU kernel allows for private anonymous memory.
 */
static int fresh_mapping(struct worker *w)
{
	char *p = map(M_PAGES * ps, PROT_READ | PROT_WRITE), *q;
	long r;

	w->ops[OP_MMAP]++;
	if (bad_ptr(p))
		return fail(w, OP_MMAP, "mmap", (long)p);
	if (check(w, OP_MMAP, p, 0, M_PAGES, 1))
		return -1;
	fill(p, 0, M_PAGES);

	w->ops[OP_MREMAP]++;
	q = _sys_mremap(p, M_PAGES * ps, 6 * ps, 0, NULL);
	if (q != p)
		return fail(w, OP_MREMAP, "fresh-shrink", (long)q);
	if (check(w, OP_MREMAP, p, 0, 6, 0))
		return -1;

	/* Leaves pages 1-2 and 4. */
	w->ops[OP_MUNMAP]++;
	r = _sys_munmap(p + 3 * ps, ps) ?: _sys_munmap(p, ps) ?:
	    _sys_munmap(p + 5 * ps, ps);
	if (r)
		return fail(w, OP_MUNMAP, "split", r);
	if (check(w, OP_MUNMAP, p, 1, 3, 0) || check(w, OP_MUNMAP, p, 4, 5, 0))
		return -1;
	r = _sys_munmap(p + ps, 2 * ps) ?: _sys_munmap(p + 4 * ps, ps);
	if (r)
		return fail(w, OP_MUNMAP, "pieces", r);
	return 0;
}

#ifndef VMAMATRIX_NOMMU
static char vmas_buf[65536];

static unsigned long hex_at(char **c)
{
	unsigned long v = 0;

	for (;; (*c)++) {
		char ch = **c;

		if (ch >= '0' && ch <= '9')
			v = v * 16 + (ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			v = v * 16 + (ch - 'a' + 10);
		else
			return v;
	}
}

/* After a failure that the layout may explain (a VMA that did not merge
 * back, a range another VMA took), the lines of /proc/self/maps within a
 * page of [from, from + len): only the mutator calls it, after fail().
 */
static void show_vmas(struct worker *w, const char *from, unsigned long len)
{
	unsigned long lo = (unsigned long)from - ps, hi = (unsigned long)from + len + ps;
	char *l = vmas_buf, *e, *c, keep;

	if (w->shown > 5 || slurp("/proc/self/maps", vmas_buf, sizeof(vmas_buf)) <= 0)
		return;
	for (; *l; l = e + (*e != 0)) {
		unsigned long start, end;

		for (e = l; *e && *e != '\n'; e++)
			;
		c = l;
		start = hex_at(&c);
		c += *c == '-';
		end = hex_at(&c);
		if (start < hi && end > lo) {
			keep = *e;
			*e = 0;
			say("VMAMATRIX-WORKLOAD-VMA %s\n", l);
			*e = keep;
		}
	}
}

/* The mutator's region m (M_PAGES pages holding MAGIC(page) between
 * operations) and the shared region, split and merged, unmapped in part,
 * replaced, dropped and moved. Round @n picks the pages (with masks, not
 * %: 32-bit arm has no division instruction to inline).
 */
static int mutate_mmu(struct worker *w, char **m, unsigned long n)
{
	long k = 1 + (n & 3), a = n & 15, len = 1 + ((n >> 4) * 7 & 15), r;
	char *p = *m, *q, *d;

	/* Splits the shared VMA and merges it back; the touchers keep write
	 * access all along.
	 */
	w->ops[OP_MPROTECT]++;
	r = sys_mprotect(shared + a * ps, len * ps,
			 PROT_READ | PROT_WRITE | PROT_EXEC) ?:
	    sys_mprotect(shared + a * ps, len * ps, PROT_READ | PROT_WRITE) ?:
	    sys_mprotect(p + k * ps, ps, PROT_READ);
	if (r)
		return fail(w, OP_MPROTECT, "mprotect", r);
	if (check(w, OP_MPROTECT, p, k, k + 1, 0))
		return -1;
	r = sys_mprotect(p + k * ps, ps, PROT_READ | PROT_WRITE);
	if (r)
		return fail(w, OP_MPROTECT, "restore", r);

	/* A hole, filled again; NOREPLACE fails if anything else took it. */
	w->ops[OP_MUNMAP]++;
	r = _sys_munmap(p + k * ps, ps);
	if (r)
		return fail(w, OP_MUNMAP, "munmap", r);
	q = _sys_mmap(p + k * ps, ps, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (q != p + k * ps) {
		fail(w, OP_MUNMAP, "refill", (long)q);
		show_vmas(w, p, M_PAGES * ps);
		return -1;
	}
	if (check(w, OP_MUNMAP, p, k, k + 1, 1) || check(w, OP_MUNMAP, p, 0, k, 0))
		return -1;
	fill(p, k, k + 1);

	/* MAP_FIXED over live pages replaces them with fresh ones. */
	w->ops[OP_MMAP]++;
	q = _sys_mmap(p + k * ps, 2 * ps, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (q != p + k * ps) {
		fail(w, OP_MMAP, "fixed", (long)q);
		show_vmas(w, p, M_PAGES * ps);
		return -1;
	}
	if (check(w, OP_MMAP, p, k, k + 2, 1))
		return -1;
	fill(p, k, k + 2);

	w->ops[OP_DONTNEED]++;
	r = sys_madvise(p + (k - 1) * ps, 2 * ps, MADV_DONTNEED);
	if (r)
		return fail(w, OP_DONTNEED, "madvise", r);
	if (check(w, OP_DONTNEED, p, k - 1, k + 1, 1))
		return -1;
	fill(p, k - 1, k + 1);

	/* Grow (moving if it must), shrink in place, then move onto a
	 * reservation: the contents must follow.
	 */
	w->ops[OP_MREMAP]++;
	q = _sys_mremap(p, M_PAGES * ps, (M_PAGES + 2) * ps, MREMAP_MAYMOVE, NULL);
	if (bad_ptr(q)) {
		fail(w, OP_MREMAP, "grow", (long)q);
		show_vmas(w, p, M_PAGES * ps);
		return -1;
	}
	*m = p = q;
	if (check(w, OP_MREMAP, p, 0, M_PAGES, 0) ||
	    check(w, OP_MREMAP, p, M_PAGES, M_PAGES + 2, 1)) {
		show_vmas(w, p, (M_PAGES + 2) * ps);
		return -1;
	}
	q = _sys_mremap(p, (M_PAGES + 2) * ps, M_PAGES * ps, 0, NULL);
	if (q != p) {
		fail(w, OP_MREMAP, "shrink", (long)q);
		show_vmas(w, p, (M_PAGES + 2) * ps);
		return -1;
	}
	d = map(M_PAGES * ps, PROT_NONE);
	if (bad_ptr(d))
		return fail(w, OP_MREMAP, "reserve", (long)d);
	q = _sys_mremap(p, M_PAGES * ps, M_PAGES * ps,
			MREMAP_MAYMOVE | MREMAP_FIXED, d);
	if (q != d) {
		fail(w, OP_MREMAP, "move", (long)q);
		show_vmas(w, p, M_PAGES * ps);
		show_vmas(w, d, M_PAGES * ps);
		return -1;
	}
	*m = d;
	if (check(w, OP_MREMAP, d, 0, M_PAGES, 0)) {
		show_vmas(w, d, M_PAGES * ps);
		return -1;
	}
	return 0;
}
#endif

/* A failure leaves the mutator's own layout unknown: it stops there rather
 * than fault on it.
 */
static void mutator(struct worker *w)
{
#ifndef VMAMATRIX_NOMMU
	char *m = map(M_PAGES * ps, PROT_READ | PROT_WRITE);
	unsigned long n = 0;

	if (bad_ptr(m)) {
		fail(w, OP_MMAP, "mmap", (long)m);
		return;
	}
	fill(m, 0, M_PAGES);
	while (!stopped() && !fresh_mapping(w) && !mutate_mmu(w, &m, n++))
		;
#else
	while (!stopped() && !fresh_mapping(w))
		;
#endif
}

/* /proc/<pid>/maps and smaps walk the VMA tree under the per-VMA locks.
 * Without an MMU there is no smaps (PROC_PAGE_MONITOR needs one): maps only.
 */
static void reader(struct worker *w)
{
#ifdef VMAMATRIX_NOMMU
	static const char *const files[] = { "/proc/self/maps" };
#else
	static const char *const files[] = { "/proc/self/maps", "/proc/self/smaps" };
#endif
	const long nr_files = sizeof(files) / sizeof(files[0]);
	long i, r;

	for (i = 0; !stopped(); i++) {
		const char *f = files[i & (nr_files - 1)];

		w->ops[OP_MAPS]++;
		r = slurp(f, maps_buf, sizeof(maps_buf));
		if (r <= 0)
			fail(w, OP_MAPS, f, r);
	}
}

/* x86-64 code expects the stack pointer 8 bytes off 16-byte alignment on
 * entry, and spawn()'s child did not get there by a call: realign.
 */
#ifdef __x86_64__
#define ENTRY_ALIGN	__attribute__((force_align_arg_pointer))
#else
#define ENTRY_ALIGN
#endif

/* Runs on a new thread's own stack. noinline: spawn() must call it, not
 * run its body in spawn()'s frame, which the new stack does not hold.
 */
static ENTRY_ALIGN __attribute__((noinline, noreturn)) void thread_main(void)
{
	struct worker *w = newborn;
	long id = w - workers;

	__atomic_store_n(&w->started, 1, __ATOMIC_RELEASE);
	if (id < NR_TOUCHERS)
		toucher(w, id);
	else if (id == NR_TOUCHERS)
		mutator(w);
	else
		reader(w);
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
	_sys_exit(0);	/* exit, not exit_group: this thread only */
}

/* A raw clone() thread without an assembly trampoline: the child returns
 * from the syscall on its new stack, where this function's frame does not
 * exist, so it only tests the return value and calls thread_main(), which
 * takes nothing from that frame. 256 bytes of slack above the child's stack
 * pointer hold what a callee may store in its caller's frame (s390's
 * register save area, powerpc's link register slot).
 */
static __attribute__((noinline)) long spawn(char *stack)
{
	long ret = raw_clone(THREAD_FLAGS, stack + STACK_SIZE - 256);

	if (ret == 0)
		thread_main();
	return ret;
}

#ifndef VMAMATRIX_NOMMU
static void fork_touch(struct worker *w)
{
	int st = 0;
	pid_t pid;
	long i;

	w->ops[OP_FORK]++;
	pid = fork();
	/* The child's copy of the shared region: copy on write, under the
	 * touchers' feet.
	 */
	if (pid == 0) {
		for (i = 0; i < R_PAGES; i++) {
			*word(shared, i) = ~MAGIC(i);
			if (*word(shared, i) != ~MAGIC(i))
				_exit(1);
		}
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || st)
		fail(w, OP_FORK, "status", pid < 0 ? pid : st);
}
#endif

/* vfork and exec ourselves: a new mm set up and torn down (FLAT on NOMMU). */
static void exec_self(struct worker *w)
{
	char *args[] = { "workload", "child", NULL };
	char *env[] = { NULL };
	int st = 0;
	pid_t pid;

	w->ops[OP_EXEC]++;	/* not in the child: it shares our memory */
	pid = vfork_inline();
	if (pid == 0) {
		execve("/proc/self/exe", args, env);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || st)
		fail(w, OP_EXEC, "status", pid < 0 ? pid : st);
}

/* The exec'd child: map, touch, unmap, in its own mm. */
static int child(struct worker *w)
{
	char *p = map(4 * ps, PROT_READ | PROT_WRITE);

	if (bad_ptr(p))
		return 1;
	fill(p, 0, 4);
	return check(w, OP_EXEC, p, 0, 4, 0) || _sys_munmap(p, 4 * ps) ? 1 : 0;
}

static const char *find_stat(const char *buf, const char *name)
{
	const char *p;
	size_t len = strlen(name);

	for (p = buf; (p = strstr(p, name)); p++)
		if ((p == buf || p[-1] == '\n') && p[len] == ' ')
			return p + len + 1;
	return NULL;
}

static void print_vmstat(const char *when)
{
	char line[256];
	const char *v;
	int len, i;

	if (slurp("/proc/vmstat", vmstat_buf, sizeof(vmstat_buf)) < 0)
		say("VMAMATRIX-WORKLOAD-NOTE cannot read /proc/vmstat\n");
	len = snprintf(line, sizeof(line), "VMAMATRIX-VMSTAT-%s", when);
	for (i = 0; i < 4; i++) {
		v = find_stat(vmstat_buf, lock_stat[i]);
		if (!v) {
			say("VMAMATRIX-VMSTAT-%s absent\n", when);
			return;
		}
		len += snprintf(line + len, sizeof(line) - len, " %s=%lu",
				lock_stat[i], strtoul(v, NULL, 10));
	}
	say("%s\n", line);
}

/* Whether the monotonic clock is past @end (compared field by field: a
 * 64-bit division would need a helper on 32-bit arm).
 */
static int past(const struct timespec *end)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec > end->tv_sec ||
	       (ts.tv_sec == end->tv_sec && ts.tv_nsec >= end->tv_nsec);
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
	struct worker *me = &workers[NR_THREADS];
	unsigned long all = 0, bad = 0;
	struct timespec end;
	long secs = argc > 1 ? atol(argv[1]) : 5, i, j, r;
	char *stack, *stacks[NR_THREADS];

#ifdef VMAMATRIX_NOMMU
	/* FLAT binaries get no auxiliary vector to ask; the NOMMU arches here
	 * use 4 KiB pages.
	 */
	ps = 4096;
#else
	ps = getpagesize();
#endif
	if (argc > 1 && !strcmp(argv[1], "child"))
		return child(me);
	if (secs < 1)
		secs = 1;
	/* The guest's /init does not mount /proc. */
	if (access("/proc/self/maps", R_OK) &&
	    mount("proc", "/proc", "proc", 0, NULL))
		say("VMAMATRIX-WORKLOAD-NOTE cannot mount /proc\n");

#ifdef VMAMATRIX_NOMMU
	say("VMAMATRIX-WORKLOAD-START nommu\n");
#else
	say("VMAMATRIX-WORKLOAD-START mmu\n");
#endif
	print_vmstat("BEFORE");
	shared = map(R_PAGES * ps, PROT_READ | PROT_WRITE);
	if (bad_ptr(shared)) {
		say("VMAMATRIX-WORKLOAD-NOTE cannot map %d pages\n", R_PAGES);
		return 1;
	}

	/* Every stack before any thread starts: once the mutator runs,
	 * nothing else maps, so the hole its first move leaves is still free
	 * when it maps the next reservation. A stack mapped into that hole
	 * (it fits with 16 KiB pages) sent the region elsewhere with the
	 * page offset of where it began; a refilled page then could not
	 * merge with it, and a grow over the split range got EFAULT: seen
	 * once on loongarch-up-mmu, a fact of the workload, not the kernel.
	 */
	for (i = 0; i < NR_THREADS; i++)
		stacks[i] = map(STACK_SIZE, PROT_READ | PROT_WRITE);
	/* One thread at a time: each takes its worker from newborn. */
	for (i = 0; i < NR_THREADS; i++) {
		me->ops[OP_CLONE]++;
		stack = stacks[i];
		newborn = &workers[i];
		r = bad_ptr(stack) ? (long)stack : spawn(stack);
		if (r < 0) {
			fail(me, OP_CLONE, "clone", r);
			workers[i].done = 1;	/* nothing to wait for */
			continue;
		}
		while (!__atomic_load_n(&workers[i].started, __ATOMIC_ACQUIRE))
			usleep(1000);
	}

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += secs;
	while (!past(&end)) {
#ifndef VMAMATRIX_NOMMU
		fork_touch(me);
#endif
		exec_self(me);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < NR_THREADS; i++)
		while (!__atomic_load_n(&workers[i].done, __ATOMIC_ACQUIRE))
			usleep(1000);

	for (i = 0; i < NR_OPS; i++) {
		unsigned long n = 0, f = 0;

		for (j = 0; j <= NR_THREADS; j++) {
			n += workers[j].ops[i];
			f += workers[j].failed[i];
		}
		say("VMAMATRIX-WORKLOAD-OP %s ops=%lu failed=%lu\n", op_name[i], n, f);
		all += n;
		bad += f;
	}
	print_vmstat("AFTER");
	say("VMAMATRIX-WORKLOAD-END ops=%lu failed=%lu\n", all, bad);
	return bad ? 1 : 0;
}

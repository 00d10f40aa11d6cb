#!/usr/bin/env bash
# A one-node Slurm cluster on this machine (Debian 12, as root), for trying
# scripts/shards.sbatch without a real cluster. No systemd needed: the
# daemons are started directly. Idempotent: safe to run again.
#
#   scripts/slurm-local.sh [start]   install, configure, start; wait for the node
#   scripts/slurm-local.sh install   install slurm-wlm and munge only (setup.sh)
#   scripts/slurm-local.sh stop      stop the daemons this script started
#   scripts/slurm-local.sh status    exit 0 when slurmctld and slurmd run, 1 if not
#   scripts/slurm-local.sh env       print the `export SLURM_CONF=...` clients need
#
# Then: export SLURM_CONF=$STATE/slurm.conf (see `env`); sinfo, sbatch, ...
#
# Environment:
#   VMAMATRIX_SLURM_STATE  state directory: slurm.conf, logs, spool, saved
#                          state (default: ~/.local/state/vmamatrix-slurm)
#
# What it sets up (slurm.conf(5) of Debian's Slurm 22.05): one node,
# "localhost", with this machine's CPUs and memory; one default partition;
# ProctrackType=proctrack/linuxproc and TaskPlugin=task/none (no cgroup
# plugin: this machine may have no systemd and no delegated cgroup tree);
# SelectType=select/cons_tres with CR_CPU, so --cpus-per-task=1 tasks run
# side by side; jobs' start and end times in $STATE/jobcomp.log
# (jobcomp/filetxt: there is no slurmdbd, so sacct has nothing to read).
# The daemons run as root (SlurmUser=root). munged is Debian's, with its
# default key (/etc/munge/munge.key, made if absent) and socket; it is started
# only if none answers, and stopped by `stop` only if this script started it.
set -euo pipefail

STATE=${VMAMATRIX_SLURM_STATE:-$HOME/.local/state/vmamatrix-slurm}
CONF=$STATE/slurm.conf
export SLURM_CONF=$CONF
MUNGE_SOCKET=/run/munge/munge.socket.2

log() { printf 'slurm-local: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (it installs packages and starts daemons)"

# running PID: the process exists and is not a zombie (PID 1 of a container
# may be slow to reap).
running() {
	local st
	st=$(awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ]
}

# alive PIDFILE NAME: the process in PIDFILE runs and is NAME.
alive() {
	local pid
	[ -s "$1" ] || return 1
	pid=$(cat "$1")
	running "$pid" && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ]
}

install_packages() {
	local missing=() p
	for p in slurm-wlm munge; do
		dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	log "installing ${missing[*]} (apt-get)"
	export DEBIAN_FRONTEND=noninteractive
	# Another apt-get may hold the lock for a while: wait for it.
	if ! apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}" >/dev/null; then
		apt-get update -qq || log "apt-get update reported errors; continuing"
		apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}" >/dev/null ||
			die "apt-get install ${missing[*]} failed"
	fi
}

start_munge() {
	if [ ! -s /etc/munge/munge.key ]; then
		log "creating the munge key /etc/munge/munge.key"
		install -d -o munge -g munge -m 0700 /etc/munge
		runuser -u munge -- mungekey --create --keyfile=/etc/munge/munge.key
	fi
	if munge -n -S "$MUNGE_SOCKET" 2>/dev/null | unmunge -S "$MUNGE_SOCKET" >/dev/null 2>&1; then
		return 0
	fi
	log "starting munged"
	install -d -o munge -g munge -m 0755 /run/munge
	install -d -o munge -g munge -m 0700 /var/log/munge /var/lib/munge
	runuser -u munge -- /usr/sbin/munged --socket="$MUNGE_SOCKET"
	touch "$STATE/munged.ours"
	local _
	for _ in $(seq 50); do
		munge -n -S "$MUNGE_SOCKET" 2>/dev/null | unmunge -S "$MUNGE_SOCKET" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	die "munged does not answer on $MUNGE_SOCKET (log: /var/log/munge/munged.log)"
}

write_conf() {
	local cpus mem new
	cpus=$(nproc)
	mem=$(awk '/^MemTotal:/ { print int($2 / 1024) }' /proc/meminfo)
	[ -n "$mem" ] || die "cannot read MemTotal from /proc/meminfo"
	mkdir -p "$STATE/ctld" "$STATE/spool" "$STATE/log"
	new=$(mktemp "$STATE/slurm.conf.XXXXXX")
	cat >"$new" <<CONF
# Written by scripts/slurm-local.sh: a one-node cluster on this machine.
ClusterName=vmamatrix-local
SlurmctldHost=localhost
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$STATE/jobcomp.log
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
NodeName=localhost CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=local Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
	if [ -f "$CONF" ] && cmp -s "$new" "$CONF"; then
		rm -f "$new"
		return 1
	fi
	mv "$new" "$CONF"
	log "wrote $CONF (CPUs=$cpus RealMemory=$mem)"
	return 0
}

stop_slurm() {
	local name pidfile pid _
	for name in slurmd slurmctld; do
		pidfile=$STATE/$name.pid
		if alive "$pidfile" "$name"; then
			pid=$(cat "$pidfile")
			log "stopping $name ($pid)"
			kill "$pid" 2>/dev/null || true
			for _ in $(seq 100); do
				running "$pid" || break
				sleep 0.2
			done
			if running "$pid"; then
				die "$name ($pid) did not stop in 20 s"
			fi
		fi
		rm -f "$pidfile"
	done
}

stop_munge() {
	[ -f "$STATE/munged.ours" ] || return 0
	log "stopping munged"
	/usr/sbin/munged --stop --socket="$MUNGE_SOCKET" || log "munged was not running"
	rm -f "$STATE/munged.ours"
}

start_daemons() {
	if ! alive "$STATE/slurmctld.pid" slurmctld; then
		log "starting slurmctld"
		/usr/sbin/slurmctld -f "$CONF" ||
			die "slurmctld did not start (log: $STATE/log/slurmctld.log)"
	fi
	if ! alive "$STATE/slurmd.pid" slurmd; then
		log "starting slurmd"
		/usr/sbin/slurmd -f "$CONF" -N localhost ||
			die "slurmd did not start (log: $STATE/log/slurmd.log)"
	fi
}

# Wait until the node is idle (or mixed/allocated: it is up and working).
wait_idle() {
	local _ st=""
	for _ in $(seq 120); do
		st=$(sinfo -h -n localhost -o '%T' 2>/dev/null || true)
		case $st in
		idle | mixed | allocated) log "node localhost: $st"; return 0 ;;
		esac
		sleep 0.5
	done
	die "node localhost is not idle after 60 s (sinfo says '${st:-nothing}'; logs in $STATE/log)"
}

case ${1:-start} in
install)
	install_packages
	;;
start)
	install_packages
	mkdir -p "$STATE"
	start_munge
	if write_conf; then
		# A new configuration: daemons running with an old one restart.
		stop_slurm
	fi
	start_daemons
	wait_idle
	printf 'export SLURM_CONF=%s\n' "$CONF"
	;;
stop)
	stop_slurm
	stop_munge
	;;
status)
	if alive "$STATE/slurmctld.pid" slurmctld && alive "$STATE/slurmd.pid" slurmd; then
		echo running
	else
		echo stopped
		exit 1
	fi
	;;
env)
	printf 'export SLURM_CONF=%s\n' "$CONF"
	;;
*)
	die "usage: $0 [start|install|stop|status|env]"
	;;
esac

#!/bin/sh
# kbuild-wrap WRAPPER COMPILER ARGS...: run `WRAPPER COMPILER ARGS...`
# (WRAPPER: distcc or icecc) with the changes a kernel build needs from the
# versions in Debian 12 (distcc 3.4, icecc 1.4). Written by vmamatrix into
# its cache and put in front of the wrapper in CC= or CCACHE_PREFIX=
# (src/build/mod.rs, README). Each change gives clang's compiler the same
# arguments it had (clang -### says so).
#
# distcc, when COMPILER is clang:
# 1. DISTCC_NO_REWRITE_CROSS=1: otherwise distcc appends
#    `-target <its own triple>` to every clang command without a `-target`
#    word. kbuild spells it `--target=<arch triple>`, which the appended one
#    overrides, so a cross build would be compiled for the host.
# 2. -fmacro-prefix-map=X becomes -Xclang -fmacro-prefix-map=X. kbuild adds
#    it out of tree (O=). It only affects preprocessing, which distcc does
#    on this machine, but distcc 3.4 sends it on with the preprocessed
#    source, where clang reports it unused and kbuild's
#    -Werror=unused-command-line-argument fails every job on the server
#    (distcc then compiles locally and avoids that server for a minute).
#    Only for preprocessed input does the first spelling count as unused.
#
# icecc:
# 3. -Wp,-MMD,F (kbuild's dependency file) becomes -MMD -MF F, and -Wp,-MD,F
#    -MD -MF F: icecc 1.4 adds an -MF of its own after -Wp,-MMD,F, so F is
#    never written and kbuild's fixdep fails on the first object.
case ${1##*/} in
distcc)
	case ${2##*/} in
	clang*)
		DISTCC_NO_REWRITE_CROSS=1
		export DISTCC_NO_REWRITE_CROSS
		for a do
			shift
			case $a in
			-fmacro-prefix-map=*) set -- "$@" -Xclang "$a" ;;
			*) set -- "$@" "$a" ;;
			esac
		done
		;;
	esac
	;;
icecc)
	for a do
		shift
		case $a in
		-Wp,-MMD,*,*|-Wp,-MD,*,*) set -- "$@" "$a" ;;
		-Wp,-MMD,*) set -- "$@" -MMD -MF "${a#-Wp,-MMD,}" ;;
		-Wp,-MD,*) set -- "$@" -MD -MF "${a#-Wp,-MD,}" ;;
		*) set -- "$@" "$a" ;;
		esac
	done
	;;
esac
exec "$@"

#!/bin/sh
# kbuild-distcc DISTCC COMPILER ARGS...: run `DISTCC COMPILER ARGS...`, with
# two changes when COMPILER is clang that a kernel build needs from distcc
# 3.4 (Debian 12). Written by vmamatrix into its cache and put in front of
# distcc in CC= or CCACHE_PREFIX= (src/build/mod.rs, README).
#
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
#    clang hands both spellings to its compiler the same way; only for
#    preprocessed input does the first count as unused.
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
exec "$@"

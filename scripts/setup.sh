#!/usr/bin/env bash
# Install everything vmamatrix needs on Debian 12 (as root) and prepare the
# Linux kernel git tree it works on. Idempotent: safe to run again.
#
#   scripts/setup.sh            install packages, kernel tree
#   scripts/setup.sh --packages only the Debian packages
#   scripts/setup.sh --rust     also the kernel's Rust tools (rustc's rust-src,
#                               bindgen-cli in /usr/local) for configs/rust.toml
#
# Environment:
#   VMAMATRIX_CACHE  cache directory (default: ~/.cache/vmamatrix)
#   KERNEL_PKG       Debian source package (default: linux-source-7.3)
#   KERNEL_SUITE     Debian suite carrying it (default: trixie-backports)
#   KCIDB_IO_VER     kcidb-io for the KCIDB test, in $VMAMATRIX_CACHE/venv (default: 141)
set -euo pipefail

CACHE=${VMAMATRIX_CACHE:-$HOME/.cache/vmamatrix}
KERNEL_PKG=${KERNEL_PKG:-linux-source-7.3}
KERNEL_SUITE=${KERNEL_SUITE:-trixie-backports}
LLVM_VER=${LLVM_VER:-19}
KCIDB_IO_VER=${KCIDB_IO_VER:-141}
mkdir -p "$CACHE"

log() { printf 'setup: %s\n' "$*" >&2; }

# The Debian mirror this machine already uses. Never hard-code a host.
debian_uri() {
	local uri=""
	if [ -f /etc/apt/sources.list.d/debian.sources ]; then
		uri=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' \
			/etc/apt/sources.list.d/debian.sources)
	fi
	if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
		uri=$(awk '/^deb / && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) { print $i; exit } }' \
			/etc/apt/sources.list)
	fi
	[ -n "$uri" ] || { log "cannot find a Debian mirror in the apt sources"; exit 3; }
	printf '%s\n' "$uri"
}

install_packages() {
	local uri stamp="$CACHE/.packages-v4"
	uri=$(debian_uri)
	if [ ! -f /etc/apt/sources.list.d/vmamatrix-backports.sources ]; then
		log "adding bookworm-backports (for QEMU 10) from $uri"
		cat >/etc/apt/sources.list.d/vmamatrix-backports.sources <<SRC
Types: deb
URIs: $uri
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
		rm -f "$stamp"
	fi
	[ -f "$stamp" ] && return 0
	export DEBIAN_FRONTEND=noninteractive
	# Foreign architectures, for the static liburcu the guest vma tests link.
	local a
	for a in arm64 armhf ppc64el s390x; do
		dpkg --print-foreign-architectures | grep -qx "$a" || dpkg --add-architecture "$a"
	done
	# A mirror mid-sync for one foreign index must not stop the setup.
	apt-get update -qq || log "apt-get update reported errors; continuing"
	apt-get install -y -qq --no-install-recommends \
		"clang-$LLVM_VER" "lld-$LLVM_VER" "llvm-$LLVM_VER" \
		make bc bison flex libelf-dev libssl-dev cpio kmod rsync python3 perl \
		dwarves ccache distcc liburcu-dev pkg-config gcc libc6-dev git xz-utils ca-certificates \
		libc6-dev-arm64-cross libc6-dev-armhf-cross libc6-dev-ppc64el-cross \
		libc6-dev-riscv64-cross libc6-dev-s390x-cross \
		gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf gcc-powerpc64le-linux-gnu \
		gcc-s390x-linux-gnu gcc-riscv64-linux-gnu unifdef \
		liburcu-dev:arm64 liburcu-dev:armhf liburcu-dev:ppc64el liburcu-dev:s390x >/dev/null
	apt-get install -y -qq --no-install-recommends -t bookworm-backports \
		qemu-system-x86 qemu-system-arm qemu-system-misc qemu-system-ppc \
		qemu-system-s390x ipxe-qemu opensbi qemu-efi-aarch64 >/dev/null || \
	apt-get install -y -qq --no-install-recommends -t bookworm-backports \
		qemu-system-x86 qemu-system-arm qemu-system-misc qemu-system-ppc qemu-system-s390x >/dev/null
	touch "$stamp"
}

# Fetch Debian's linux-source tarball and turn it into a git repository.
kernel_tree() {
	local tree="$CACHE/linux" uri tmp tarball deb
	if [ -d "$tree/.git" ] && git -C "$tree" rev-parse -q --verify HEAD >/dev/null; then
		log "kernel tree ready: $tree ($(git -C "$tree" log -1 --format=%s))"
		return 0
	fi
	mkdir -p "$CACHE/debs"
	deb=$(find "$CACHE/debs" -name "${KERNEL_PKG}_*.deb" | sort | tail -n 1)
	if [ -z "$deb" ]; then
		uri=$(debian_uri)
		tmp=$(mktemp -d "$CACHE/fetch.XXXXXX")
		# Native architecture only (linux-source is arch:all, listed there):
		# a foreign index mid-sync on the mirror must not stop the fetch.
		apt_tmp "$tmp" "$(dpkg --print-architecture)" "$KERNEL_SUITE"
		log "fetching $KERNEL_PKG from $KERNEL_SUITE ($uri)"
		apt-get "${APTOPT[@]}" update -qq
		(cd "$CACHE/debs" && apt-get "${APTOPT[@]}" download "$KERNEL_PKG")
		rm -rf "$tmp"
		deb=$(find "$CACHE/debs" -name "${KERNEL_PKG}_*.deb" | sort | tail -n 1)
	fi
	tmp=$(mktemp -d "$CACHE/unpack.XXXXXX")
	dpkg-deb -x "$deb" "$tmp"
	tarball=$(find "$tmp/usr/src" -name "$KERNEL_PKG.tar.*" | head -n 1)
	[ -n "$tarball" ] || { log "no tarball in $deb"; exit 3; }
	rm -rf "$tree.new"
	mkdir -p "$tree.new"
	tar -xf "$tarball" -C "$tree.new" --strip-components=1
	rm -rf "$tmp"
	# Debian appends a block that ignores everything at the top level
	# ("/*"); drop it so git status works as in an upstream tree.
	sed -i '/^# Debian packaging/,$d' "$tree.new/.gitignore"
	sed -i -e :a -e '/^\n*$/{$d;N;ba' -e '}' "$tree.new/.gitignore"
	sed -i '${/^#$/d}' "$tree.new/.gitignore"
	local ver
	ver=$(make -s -C "$tree.new" kernelversion 2>/dev/null || echo unknown)
	git -C "$tree.new" init -q -b master
	# --force: the tarball holds only sources, some of which the kernel's
	# own .gitignore patterns match (upstream tracks them explicitly).
	git -C "$tree.new" add --force --all
	git -C "$tree.new" -c user.name=vmamatrix -c user.email=vmamatrix@localhost \
		commit -q -m "Linux $ver (Debian $KERNEL_PKG)"
	git -C "$tree.new" tag "v$ver"
	mv "$tree.new" "$tree"
	log "kernel tree ready: $tree (Linux $ver)"
}

# apt_tmp DIR ARCH SUITE: apt options for a private sources list of one
# architecture's index of SUITE on this machine's mirror (nothing is added to
# the system's apt configuration).
apt_tmp() {
	local dir=$1 arch=$2 suite=$3 uri
	uri=$(debian_uri)
	mkdir -p "$dir/lists/partial" "$dir/etc"
	printf 'deb [arch=%s] %s %s main\n' "$arch" "$uri" "$suite" >"$dir/etc/sources.list"
	APTOPT=(-o Dir::Etc::sourcelist="$dir/etc/sources.list"
		-o Dir::Etc::sourceparts=- -o Dir::State::Lists="$dir/lists"
		-o APT::Sandbox::User=root -o APT::Get::List-Cleanup=0
		-o APT::Architecture="$arch" -o APT::Architectures::="$arch")
}

# A static riscv64 liburcu for the guest vma tests: bookworm has no riscv64
# port, trixie has. Unpacked into the cache, not installed (its libc6
# dependency is newer than bookworm's cross libc; see src/arches.toml).
riscv_liburcu() {
	local root="$CACHE/sysroot/riscv64" tmp deb
	[ -f "$root/usr/lib/riscv64-linux-gnu/liburcu.a" ] && return 0
	tmp=$(mktemp -d "$CACHE/urcu.XXXXXX")
	apt_tmp "$tmp" riscv64 trixie
	log "fetching liburcu-dev:riscv64 from trixie"
	apt-get "${APTOPT[@]}" update -qq
	(cd "$tmp" && apt-get "${APTOPT[@]}" download liburcu-dev:riscv64 >/dev/null)
	deb=$(find "$tmp" -maxdepth 1 -name 'liburcu-dev_*_riscv64.deb' | head -n 1)
	[ -n "$deb" ] || { log "liburcu-dev:riscv64 not found in trixie"; exit 3; }
	rm -rf "$root.new"
	mkdir -p "$root.new"
	dpkg-deb -x "$deb" "$root.new"
	rm -rf "$root" && mv "$root.new" "$root"
	rm -rf "$tmp"
}

# kcidb-io (PyPI) in a venv of the cache: the test suite validates
# `report --format kcidb` with it (tests/formats_ci.rs).
kcidb_venv() {
	local venv="$CACHE/venv"
	if "$venv/bin/python" -c "import sys, importlib.metadata as m; sys.exit(m.version('kcidb-io') != '$KCIDB_IO_VER')" 2>/dev/null; then
		return 0
	fi
	if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
		log "installing python3-venv"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
	fi
	log "installing kcidb-io $KCIDB_IO_VER into $venv"
	python3 -m venv "$venv"
	"$venv/bin/pip" install -q --disable-pip-version-check "kcidb-io==$KCIDB_IO_VER"
}

# Debian's chromium (bookworm main) and a font, for the HTML report's test
# in a headless browser (tests/formats_html.rs).
install_browser() {
	command -v chromium >/dev/null 2>&1 && [ -d /usr/share/fonts/truetype/dejavu ] && return 0
	log "installing chromium (the HTML report's browser test)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null || {
		apt-get update -qq || log "apt-get update reported errors; continuing"
		apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
	}
}

# Debian's Slurm and munge, for the Slurm array job's test on a one-node
# cluster (tests/slurm.rs). slurm-local.sh installs them (one list of
# packages) and starts the daemons when the test asks.
install_slurm() {
	bash "$(dirname "${BASH_SOURCE[0]}")/slurm-local.sh" install
}

# What a CONFIG_RUST kernel needs beyond rustc (scripts/min-tool-version.sh
# of 7.3: rustc 1.85 on x86, bindgen 0.71.1): the standard library's source
# for rustc, and bindgen-cli, built from crates.io (a few minutes, once).
BINDGEN_VER=${BINDGEN_VER:-0.71.1}
install_kernel_rust() {
	command -v rustup >/dev/null 2>&1 || { log "no rustup: install Rust with rustup first"; exit 3; }
	rustup component add rust-src >/dev/null
	if [ "$(bindgen --version 2>/dev/null)" != "bindgen $BINDGEN_VER" ]; then
		log "building bindgen-cli $BINDGEN_VER into /usr/local (the Rust kernel cells)"
		cargo install -q --locked --root /usr/local bindgen-cli --version "$BINDGEN_VER"
	fi
}

install_packages
install_browser
install_slurm
riscv_liburcu
kcidb_venv
[ "${1:-}" = "--packages" ] && exit 0
[ "${1:-}" = "--rust" ] && install_kernel_rust
kernel_tree

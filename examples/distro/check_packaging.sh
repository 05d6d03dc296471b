# Build the example distro's packages by hand, at each project's newest tag,
# to prove the packaging in examples/distro/packaging works: an sdist made
# without network, then rpmbuild (DLRN's spec edits) and dpkg-buildpackage.
# The pipeline's build engine does this for real; this is the reference.
#
# Usage: bash examples/distro/check_packaging.sh [TARGET] [OUT]
#   TARGET  where make_upstreams.py put the repositories (default build/example)
#   OUT     build directory, emptied first (default build/example-check)
# Prints one line per step with its duration; artifacts end up in OUT/*/rpm/RPMS
# and OUT/*/deb.
set -euo pipefail

TARGET=$(realpath "${1:-build/example}")
OUT=$(realpath -m "${2:-build/example-check}")
# Debian's python3 and tools, not a pyenv shim or the venv.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C.UTF-8 TZ=UTC

# upstream repo | rdoinfo project | spec | sdist name
PROJECTS="keystone keystone openstack-keystone.spec keystone
python-keystoneclient keystoneclient python-keystoneclient.spec python-keystoneclient
keystonemiddleware keystonemiddleware python-keystonemiddleware.spec keystonemiddleware"

step() {  # step <label> <command...>: run, print the duration
	local label=$1 start end
	shift
	start=$(date +%s.%N)
	"$@"
	end=$(date +%s.%N)
	printf '%-45s %6.1f s\n' "$label" "$(echo "$end - $start" | bc)"
}

make_sdist() {  # in a clone at the tag, without network: pbr reads git
	(cd "$1" && bwrap --dev-bind / / --unshare-net --die-with-parent \
		env PBR_VERSION="$2" SOURCE_DATE_EPOCH="$3" python3 setup.py -q sdist >"$1/../sdist.log" 2>&1)
}

build_rpm() {  # DLRN's build_srpm.sh edits, then rpmbuild -ba
	local topdir=$1 distgit=$2 spec=$3 sdist=$4 version=$5 release=$6 epoch_time=$7
	mkdir -p "$topdir"/{SOURCES,SPECS}
	find "$distgit" -maxdepth 1 -type f -exec cp {} "$topdir/SOURCES/" \;
	local source_with_release
	source_with_release="$(basename "$sdist" .tar.gz)-$release.tar.gz"
	cp "$sdist" "$topdir/SOURCES/$source_with_release"
	cp "$distgit/$spec" "$topdir/SPECS/"
	sed -i -e "1i%define upstream_version $version" "$topdir/SPECS/$spec"
	sed -i -e "s/Version:.*/Version: $version/g" \
		-e "s/Release:.*/Release: $release%{?dist}/g" \
		-e "s/^\(Source\|Source0\):.*/\1: $source_with_release/" \
		"$topdir/SPECS/$spec"
	SOURCE_DATE_EPOCH=$epoch_time rpmbuild -ba --nodeps \
		--define "_topdir $topdir" --define "_buildhost distroforge" \
		--define "use_source_date_epoch_as_buildtime 1" --define "clamp_mtime_to_source_date_epoch 1" \
		"$topdir/SPECS/$spec" >"$topdir/rpmbuild.log" 2>&1
}

build_deb() {  # the sdist as orig tarball, debian/ from the distgit
	local dir=$1 distgit=$2 sdist=$3 source_name=$4 version=$5
	mkdir -p "$dir"
	tar -xzf "$sdist" -C "$dir"
	cp "$sdist" "$dir/${source_name}_${version}.orig.tar.gz"
	local tree
	tree="$dir/$(basename "$sdist" .tar.gz)"
	cp -a "$distgit/debian" "$tree/"
	(cd "$tree" && dpkg-buildpackage -us -uc -b >"$dir/build.log" 2>&1)
}

rm -rf "$OUT"
mkdir -p "$OUT"
while read -r repo project spec sdist_name; do
	upstream=$TARGET/upstream/$repo
	tag=$(git -C "$upstream" describe --tags --abbrev=0 stable/zed)
	commit_time=$(git -C "$upstream" log -1 --format=%ct "$tag^{commit}")
	hash7=$(git -C "$upstream" rev-parse --short=7 "$tag^{commit}")
	release="0.$(date -u -d "@$commit_time" +%Y%m%d%H%M%S).$hash7"
	work=$OUT/$project
	git clone -q --branch "$tag" "$upstream" "$work/src" 2>/dev/null
	git clone -q --branch zed-rdo "$TARGET/distgit/$project-distgit" "$work/distgit"
	step "$project $tag: sdist (bwrap, no network)" make_sdist "$work/src" "$tag" "$commit_time"
	sdist=$work/src/dist/$sdist_name-$tag.tar.gz
	step "$project $tag: rpmbuild -ba" build_rpm "$work/rpm" "$work/distgit" "$spec" "$sdist" "$tag" "$release" "$commit_time"
	source_name=$(cd "$work/distgit" && dpkg-parsechangelog -S Source)
	deb_version=$(cd "$work/distgit" && dpkg-parsechangelog -S Version)
	upstream_part=${deb_version#*:}
	upstream_part=${upstream_part%-*}
	if [ "$upstream_part" != "$tag" ]; then
		echo "$project: debian/changelog says $deb_version, the tag is $tag: add a changelog entry" >&2
		exit 1
	fi
	step "$project $tag: dpkg-buildpackage -b" build_deb "$work/deb" "$work/distgit" "$sdist" "$source_name" "$tag"
done <<<"$PROJECTS"
find "$OUT" -path '*/RPMS/*.rpm' -o -path '*/SRPMS/*.rpm' -o -name '*.deb' | sort

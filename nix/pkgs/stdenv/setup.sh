# The generic builder of Kiln's stdenv, sourced by bash (`source $stdenv/setup`), then
# `genericBuild`. Written from the nixpkgs manual's description of the standard
# environment: the phases, their hooks and switches, inputs and their propagation, setup hooks.
#
# The stdenv derivation prepends four variables to this file: `initialPath` (directories
# whose `bin` start PATH), `defaultNativeBuildInputs` (the compiler wrapper, …), `SHELL` and
# `kilnLibc` (the runtime C library programs are linked against).

set -e
set -o pipefail
shopt -s nullglob

: "${outputs:=out}"
: "${NIX_BUILD_CORES:=1}"
[ "$NIX_BUILD_CORES" -gt 0 ] 2> /dev/null || NIX_BUILD_CORES=1
export NIX_BUILD_CORES
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-315532800}
export TZ=UTC LC_ALL=C
export HOME=/homeless-shelter
export CONFIG_SHELL="$SHELL"
prefix=${prefix:-$out}

PATH=
for p in $initialPath; do PATH=${PATH:+$PATH:}$p/bin; done
export PATH

curPhase=setup
# A failing command names the package and its phase (the log's last lines follow it).
kilnReportFailure() {
    local status=$?
    if [ "$status" -ne 0 ]; then
        echo "error: ${name:-?}: phase '$curPhase' failed (exit status $status)" >&2
    fi
    exit "$status"
}
trap kilnReportFailure EXIT

# Runs the hook named $1: a shell function of that name, else the variable's text; then each
# function setup hooks added to the array `$1Hooks` (e.g. `postFixupHooks+=(autoPatchelf)`).
runHook() {
    local h=$1 f
    shift
    if declare -F "$h" > /dev/null; then
        "$h" "$@"
    elif [ -n "${!h:-}" ]; then
        eval "${!h}"
    fi
    if declare -p "${h}Hooks" > /dev/null 2>&1; then
        local -n kilnHooks="${h}Hooks"
        for f in "${kilnHooks[@]}"; do "$f" "$@"; done
    fi
    return 0
}

addToSearchPath() {
    local var=$1 dir=$2
    [ -d "$dir" ] || return 0
    export "$var=${!var:+${!var}:}$dir"
}

# Inputs: what `nativeBuildInputs`/`buildInputs` name, with everything their
# `nix-support/propagated-build-inputs` (and `-native-`) propagate, each once, in order.
inputsSeen=" "
allInputs=()
findInputs() {
    local p=$1 f q
    case "$inputsSeen" in *" $p "*) return 0 ;; esac
    inputsSeen+="$p "
    allInputs+=("$p")
    for f in propagated-native-build-inputs propagated-build-inputs; do
        if [ -f "$p/nix-support/$f" ]; then
            for q in $(< "$p/nix-support/$f"); do findInputs "$q"; done
        fi
    done
}
for p in $defaultNativeBuildInputs $nativeBuildInputs $propagatedNativeBuildInputs \
    $buildInputs $propagatedBuildInputs; do
    findInputs "$p"
done

# What an input brings: programs, headers, libraries, pkg-config files, its setup hook.
export NIX_CFLAGS_COMPILE="${NIX_CFLAGS_COMPILE:-}"
export NIX_CFLAGS_LINK="${NIX_CFLAGS_LINK:-}"
addInput() {
    local p=$1
    if [ -d "$p/bin" ]; then PATH=$p/bin:$PATH; fi
    if [ -d "$p/include" ]; then NIX_CFLAGS_COMPILE+=" -isystem $p/include"; fi
    if [ -d "$p/lib" ]; then NIX_CFLAGS_LINK+=" -L$p/lib -Wl,-rpath,$p/lib"; fi
    addToSearchPath PKG_CONFIG_PATH "$p/lib/pkgconfig"
    addToSearchPath PKG_CONFIG_PATH "$p/share/pkgconfig"
    if [ -f "$p/nix-support/setup-hook" ]; then source "$p/nix-support/setup-hook"; fi
}
for p in "${allInputs[@]}"; do addInput "$p"; done
export PATH

# Phases.

unpackFile() {
    local f=$1
    echo "unpacking source archive $f"
    if [ -d "$f" ]; then
        cp -r --no-preserve=mode "$f" "$(stripHash "$f")"
        return
    fi
    case "$f" in
        *.zip) unzip -q "$f" ;;
        *.tar | *.tar.* | *.tgz | *.tbz2 | *.txz) tar xf "$f" --no-same-owner ;;
        *) runHook unpackCmd "$f" || { echo "do not know how to unpack $f" >&2; return 1; } ;;
    esac
}

# The name of a store path without its hash part.
stripHash() {
    local b
    b=$(basename "$1")
    if [[ "$b" =~ ^[0-9a-z]{32}- ]]; then echo "${b:33}"; else echo "$b"; fi
}

unpackPhase() {
    runHook preUnpack
    local srcList=${srcs:-$src} before after f
    if [ -z "$srcList" ]; then
        echo "no 'src' or 'srcs' to unpack (set dontUnpack = true if none is needed)" >&2
        return 1
    fi
    before=$(ls -A)
    for f in $srcList; do unpackFile "$f"; done
    if [ -z "${sourceRoot:-}" ]; then
        after=$(ls -A)
        local new=()
        for f in $after; do
            case $'\n'"$before"$'\n' in *$'\n'"$f"$'\n'*) ;; *) [ -d "$f" ] && new+=("$f") ;; esac
        done
        if [ "${#new[@]}" -ne 1 ]; then
            echo "unpacking left ${#new[@]} directories (${new[*]}); set sourceRoot" >&2
            return 1
        fi
        sourceRoot=${new[0]}
    fi
    echo "source root is $sourceRoot"
    chmod -R u+w "$sourceRoot"
    cd "$sourceRoot"
    # The sources' scripts name /bin/sh and the like, which the sandbox does not have.
    [ -n "${dontPatchSourceShebangs:-}" ] || patchShebangs . > /dev/null
    runHook postUnpack
}

patchPhase() {
    runHook prePatch
    local p
    for p in ${patches:-}; do
        echo "applying patch $p"
        case "$p" in
            *.gz) gzip -dc "$p" ;;
            *.bz2) bzip2 -dc "$p" ;;
            *.xz) xz -dc "$p" ;;
            *) cat "$p" ;;
        esac | patch ${patchFlags:--p1}
    done
    runHook postPatch
}

configurePhase() {
    runHook preConfigure
    : "${configureScript:=./configure}"
    if [ -x "$configureScript" ]; then
        local flags=()
        [ -n "${dontAddPrefix:-}" ] || flags+=("${prefixKey:---prefix=}$prefix")
        if grep -q dependency-tracking "$configureScript" 2> /dev/null; then
            flags+=(--disable-dependency-tracking)
        fi
        echo "configure flags: ${flags[*]} ${configureFlags:-}"
        # Through the shell: there is no /bin/sh for its `#!` line.
        # shellcheck disable=SC2086
        "$SHELL" $configureScript "${flags[@]}" ${configureFlags:-}
    else
        echo "no configure script, doing nothing"
    fi
    runHook postConfigure
}

hasMakefile() { [ -n "${makefile:-}" ] || [ -e Makefile ] || [ -e makefile ] || [ -e GNUmakefile ]; }

buildPhase() {
    runHook preBuild
    if hasMakefile; then
        # shellcheck disable=SC2086
        make ${makefile:+-f $makefile} -j"$NIX_BUILD_CORES" SHELL="$SHELL" \
            ${makeFlags:-} ${buildFlags:-}
    else
        echo "no Makefile, doing nothing"
    fi
    runHook postBuild
}

checkPhase() {
    runHook preCheck
    if hasMakefile; then
        # shellcheck disable=SC2086
        make ${makefile:+-f $makefile} -j"$NIX_BUILD_CORES" SHELL="$SHELL" \
            ${makeFlags:-} ${checkFlags:-} ${checkTarget:-check}
    fi
    runHook postCheck
}

installPhase() {
    runHook preInstall
    mkdir -p "$prefix"
    if hasMakefile; then
        # shellcheck disable=SC2086
        make ${makefile:+-f $makefile} SHELL="$SHELL" ${makeFlags:-} ${installFlags:-} \
            ${installTargets:-install}
    fi
    runHook postInstall
}

# moveToOutput PATH OUTPUT-DIR: moves $out/PATH (from every output) into OUTPUT-DIR.
moveToOutput() {
    local path=$1 dst=$2 o src
    for o in $outputs; do
        src=${!o}/$path
        [ "${!o}" = "$dst" ] && continue
        if [ -e "$src" ] || [ -L "$src" ]; then
            mkdir -p "$(dirname "$dst/$path")"
            if [ -d "$dst/$path" ] && [ -d "$src" ]; then
                cp -a "$src"/. "$dst/$path"/ && rm -rf "$src"
            else
                mv "$src" "$dst/$path"
            fi
        fi
    done
}

isELF() {
    local magic
    magic=$(head -c 4 "$1" 2> /dev/null | tr -d '\000')
    [ "$magic" = $'\177ELF' ]
}

# isArchive FILE: a static library (`ar`'s magic).
isArchive() {
    local magic
    magic=$(head -c 8 "$1" 2> /dev/null)
    [ "$magic" = '!<arch>' ]
}

# patchShebangs DIR: `#!/bin/sh`, `#!/usr/bin/env perl`, … become the programs of that name
# on PATH (in the store).
patchShebangs() {
    local f first interp args new
    find "$@" -type f -perm -0100 2> /dev/null | while read -r f; do
        read -r first < "$f" 2> /dev/null || true
        [[ "$first" == "#!"* ]] || continue
        read -r interp args <<< "${first#\#!}"
        if [ "$(basename "$interp")" = env ] && [ -n "$args" ]; then
            read -r interp args <<< "$args"
        fi
        case "$interp" in "$NIX_STORE"/*) continue ;; esac
        new=$(command -v "$(basename "$interp")" || true)
        if [ -z "$new" ]; then
            echo "patchShebangs: $f: no '$(basename "$interp")' on PATH; left alone" >&2
            continue
        fi
        echo "patching script interpreter of $f: $interp -> $new"
        { echo "#!$new${args:+ $args}"; tail -n +2 "$f"; } > "$f.kiln-tmp"
        chmod --reference="$f" "$f.kiln-tmp" 2> /dev/null || chmod +x "$f.kiln-tmp"
        touch -r "$f" "$f.kiln-tmp"
        mv "$f.kiln-tmp" "$f"
    done
}

fixupPhase() {
    runHook preFixup
    local o dir f
    # Multiple outputs: headers and pkg-config files to `dev`, manuals to `man`, docs to
    # `doc`, info to `info`; `dev` propagates `out`.
    for o in $outputs; do
        case "$o" in
            dev)
                moveToOutput include "$dev"
                moveToOutput lib/pkgconfig "$dev"
                moveToOutput share/pkgconfig "$dev"
                mkdir -p "$dev/nix-support"
                echo "$out" >> "$dev/nix-support/propagated-build-inputs"
                ;;
            man) moveToOutput share/man "$man" ;;
            doc) moveToOutput share/doc "$doc" ;;
            info) moveToOutput share/info "$info" ;;
        esac
    done
    for o in $outputs; do
        dir=${!o}
        [ -e "$dir" ] || continue
        find "$dir" -type f | while read -r f; do
            if isArchive "$f"; then
                # `ar` records each member's mtime, uid and gid when asked to (ncurses'
                # ARFLAGS do): rewritten in deterministic mode (all zero), stripped unless
                # `dontStrip`, the same archive whoever builds it when.
                { [ -z "${dontStrip:-}" ] && strip -S -D "$f" 2> /dev/null; } \
                    || objcopy -D "$f" 2> /dev/null \
                    || echo "fixup: cannot rewrite the archive $f deterministically" >&2
                continue
            fi
            isELF "$f" || continue
            [ -n "${dontStrip:-}" ] || strip -S "$f" 2> /dev/null || true
            if [ -z "${dontPatchELF:-}" ] && patchelf --print-rpath "$f" > /dev/null 2>&1; then
                patchelf --shrink-rpath "$f"
            fi
        done
        if [ -z "${dontPatchShebangs:-}" ]; then patchShebangs "$dir"; fi
        rm -f "$dir/share/info/dir"
    done
    if [ -n "${propagatedBuildInputs:-}${propagatedNativeBuildInputs:-}" ]; then
        local target=${dev:-$out}
        mkdir -p "$target/nix-support"
        [ -z "${propagatedBuildInputs:-}" ] \
            || echo "$propagatedBuildInputs" >> "$target/nix-support/propagated-build-inputs"
        [ -z "${propagatedNativeBuildInputs:-}" ] \
            || echo "$propagatedNativeBuildInputs" >> "$target/nix-support/propagated-native-build-inputs"
    fi
    if [ -n "${setupHook:-}" ]; then
        mkdir -p "$out/nix-support"
        cp "$setupHook" "$out/nix-support/setup-hook"
    fi
    runHook postFixup
}

installCheckPhase() {
    runHook preInstallCheck
    if hasMakefile; then
        # shellcheck disable=SC2086
        make SHELL="$SHELL" ${makeFlags:-} ${installCheckFlags:-} ${installCheckTarget:-installcheck}
    fi
    runHook postInstallCheck
}

# Runs one phase: the variable of its name when set (e.g. `installPhase = "…"`), else the
# function.
runPhase() {
    curPhase=$1
    local skip=""
    case "$curPhase" in
        unpackPhase) skip=${dontUnpack:-} ;;
        patchPhase) skip=${dontPatch:-} ;;
        configurePhase) skip=${dontConfigure:-} ;;
        buildPhase) skip=${dontBuild:-} ;;
        checkPhase) [ -n "${doCheck:-}" ] || skip=1 ;;
        installPhase) skip=${dontInstall:-} ;;
        fixupPhase) skip=${dontFixup:-} ;;
        installCheckPhase) [ -n "${doInstallCheck:-}" ] || skip=1 ;;
    esac
    [ -z "$skip" ] || return 0
    echo "running $curPhase"
    if [ -n "${!curPhase:-}" ]; then
        eval "${!curPhase}"
    else
        "$curPhase"
    fi
    # A phase may leave the source directory; the next starts where it ended, as in nixpkgs.
}

genericBuild() {
    if [ -n "${buildCommandPath:-}" ]; then
        curPhase=buildCommand
        source "$buildCommandPath"
        return
    fi
    if [ -n "${buildCommand:-}" ]; then
        curPhase=buildCommand
        eval "$buildCommand"
        return
    fi
    local p
    for p in ${phases:-${prePhases:-} unpackPhase patchPhase ${preConfigurePhases:-} \
        configurePhase ${preBuildPhases:-} buildPhase checkPhase ${preInstallPhases:-} \
        installPhase ${preFixupPhases:-} fixupPhase installCheckPhase ${postPhases:-}}; do
        runPhase "$p"
    done
    curPhase=done
}

# autoPatchelfHook's setup hook: after the fixup phase, every dynamic ELF file of the outputs
# gets the runtime libc's loader as its interpreter (when it has one) and a RUNPATH made of
# the directories, among the outputs' and the inputs' library directories and the libc's,
# that hold its DT_NEEDED libraries. A needed library found nowhere fails the build, naming
# the file and the library. `autoPatchelfIgnoreMissing` lists sonames allowed to be missing.

autoPatchelfLibDirs() {
    local p d
    for p in "$@"; do
        for d in lib lib64 lib/x86_64-linux-gnu usr/lib usr/lib/x86_64-linux-gnu; do
            [ -d "$p/$d" ] && echo "$p/$d"
        done
        for d in "$p"/lib/x86_64-linux-gnu/* "$p"/usr/lib/x86_64-linux-gnu/*; do
            # Private library directories (systemd's, …).
            [ -d "$d" ] && [ ! -L "$d" ] && echo "$d"
        done
    done
    echo "$kilnLibc/lib"
}

autoPatchelf() {
    local o f need d found rp missing=0 outs=()
    for o in $outputs; do outs+=("${!o}"); done
    local dirs
    mapfile -t dirs < <(autoPatchelfLibDirs "${outs[@]}" "${allInputs[@]}")
    echo "autoPatchelf: searching ${#dirs[@]} library directories"
    while read -r f; do
        isELF "$f" || continue
        patchelf --print-rpath "$f" > /dev/null 2>&1 || continue
        rp=
        for need in $(patchelf --print-needed "$f"); do
            found=
            for d in "${dirs[@]}"; do
                if [ -e "$d/$need" ]; then found=$d; break; fi
            done
            if [ -z "$found" ]; then
                case " ${autoPatchelfIgnoreMissing:-} " in *" $need "*) continue ;; esac
                echo "autoPatchelf: $f needs $need, which no input provides" >&2
                missing=1
                continue
            fi
            case ":$rp:" in *":$found:"*) ;; *) rp=${rp:+$rp:}$found ;; esac
        done
        if patchelf --print-interpreter "$f" > /dev/null 2>&1; then
            patchelf --set-interpreter "$kilnLibc/lib/ld-linux-x86-64.so.2" "$f"
        fi
        patchelf --set-rpath "$rp" "$f"
    done < <(for o in "${outs[@]}"; do find "$o" -type f; done)
    if [ "$missing" = 1 ]; then
        echo "autoPatchelf: add the packages that provide these libraries to buildInputs" >&2
        return 1
    fi
}

postFixupHooks+=(autoPatchelf)

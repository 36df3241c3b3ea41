# The builder of the trivial builders (nix/pkgs/build-support/trivial-builders.nix), run by
# `sh -e`: `$buildCommand` (passed as a file) in the build directory, with `merge`.

# merge SRC DST MODE: links to every file of the tree SRC, made under DST (directories, also
# those SRC links to, are made; files and symbolic links become links to SRC's). A name DST already has: with MODE
# `first` it stays; with `fail` it is an error unless both lead to the same file.
merge() {
    for f in "$1"/* "$1"/.[!.]* "$1"/..?*; do
        [ -e "$f" ] || [ -L "$f" ] || continue
        n=${f##*/}
        if [ -d "$f" ] && { [ ! -e "$2/$n" ] || [ -d "$2/$n" ]; }; then
            mkdir -p "$2/$n"
            merge "$f" "$2/$n" "$3"
        elif [ -e "$2/$n" ] || [ -L "$2/$n" ]; then
            if [ "$3" = fail ] && [ "$(readlink -f "$f")" != "$(readlink -f "$2/$n")" ]; then
                echo "collision between '$(readlink "$2/$n")' and '$f'" >&2
                exit 1
            fi
        else
            ln -s "$f" "$2/$n"
        fi
    done
}

. "$buildCommandPath"

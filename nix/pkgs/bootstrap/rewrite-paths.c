/* rewrite-paths FILE STRING...: replaces every occurrence of each STRING in FILE with a
 * string of the same length that names no directory of the host ("/kiln-no-host-path…",
 * cut or padded with '_'), so that a binary taken from Debian keeps its layout but no longer
 * refers to /usr/lib or /lib/x86_64-linux-gnu. Written for Kiln's bootstrap (stage 1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: rewrite-paths FILE STRING...\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) { perror(argv[1]); return 1; }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc(n > 0 ? n : 1);
    if (!buf || fread(buf, 1, n, f) != (size_t)n) { perror(argv[1]); return 1; }
    fclose(f);
    const char *base = "/kiln-no-host-path";
    long changed = 0;
    for (int a = 2; a < argc; a++) {
        size_t len = strlen(argv[a]);
        if (len == 0) continue;
        char *rep = malloc(len);
        for (size_t i = 0; i < len; i++) rep[i] = i < strlen(base) ? base[i] : '_';
        for (long i = 0; i + (long)len <= n; i++) {
            if (memcmp(buf + i, argv[a], len) == 0) {
                memcpy(buf + i, rep, len);
                changed++;
                i += len - 1;
            }
        }
        free(rep);
    }
    if (changed) {
        f = fopen(argv[1], "wb");
        if (!f || fwrite(buf, 1, n, f) != (size_t)n || fclose(f) != 0) { perror(argv[1]); return 1; }
    }
    printf("%s: %ld replaced\n", argv[1], changed);
    return 0;
}

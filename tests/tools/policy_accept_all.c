/* A minimal, fast strfry write-policy program: answers "accept" to every input
 * line. Used by benchmarks and tests to measure the runner's own per-event cost. */
#include <stdio.h>
#include <string.h>

int main(void) {
    static char line[1 << 20];
    setvbuf(stdout, NULL, _IOLBF, 0);
    while (fgets(line, sizeof line, stdin)) {
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n') { /* longer than the buffer: skip the rest */
            int c;
            while ((c = getchar()) != EOF && c != '\n') {}
        }
        const char *p = strstr(line, "\"id\":\"");
        if (!p || strlen(p + 6) < 64) continue;
        printf("{\"id\":\"%.64s\",\"action\":\"accept\"}\n", p + 6);
    }
    return 0;
}

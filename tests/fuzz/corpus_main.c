/* corpus_main.c - replays a fuzz target's seed corpus without libFuzzer, for `meson test`.
 *
 * Usage: fuzz_TARGET DIR|FILE...  Every regular file is one input. This is how gcc's normal and
 * ASan+UBSan builds run the same harness and invariants that clang's libFuzzer runs under
 * `make fuzz`; a target that fails an invariant aborts, and the test with it. An empty corpus is
 * an error: it would make the test pass while checking nothing.
 */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void die(const char *what, const char *path)
{
	fprintf(stderr, "corpus: %s %s: %s\n", what, path, strerror(errno));
	exit(1);
}

static void run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		die("open", path);
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (len == cap) {
			cap = cap ? 2 * cap : 4096;
			uint8_t *nb = realloc(buf, cap);
			if (!nb)
				die("realloc for", path);
			buf = nb;
		}
		size_t got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	if (ferror(f))
		die("read", path);
	if (fclose(f) != 0)
		die("close", path);
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
}

int main(int argc, char **argv)
{
	unsigned inputs = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0)
			die("stat", argv[i]);
		if (!S_ISDIR(st.st_mode)) {
			run_file(argv[i]);
			inputs++;
			continue;
		}
		DIR *d = opendir(argv[i]);
		if (!d)
			die("opendir", argv[i]);
		struct dirent *e;
		errno = 0;
		while ((e = readdir(d)) != NULL) {
			char path[4096];
			if (e->d_name[0] == '.')
				continue;
			if ((size_t)snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name) >= sizeof path) {
				errno = ENAMETOOLONG;
				die("path", e->d_name);
			}
			run_file(path);
			inputs++;
			errno = 0;
		}
		if (errno != 0)
			die("readdir", argv[i]);
		if (closedir(d) != 0)
			die("closedir", argv[i]);
	}
	if (inputs == 0) {
		fprintf(stderr, "corpus: no inputs\n");
		return 1;
	}
	printf("%u inputs, every invariant held\n", inputs);
	return 0;
}

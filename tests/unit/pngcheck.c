/*
 * pngcheck.c - what a PNG screenshot shows, for tests/report.sh: is it
 * blank, and did the chart colours get drawn?
 *
 *   pngcheck FILE [RRGGBB...]
 *
 * prints "WIDTH HEIGHT COLOURS" (the number of distinct RGB colours),
 * then one line "RRGGBB PIXELS" for each colour asked about. 8-bit RGB
 * and RGBA, non-interlaced (what Chromium writes); exits 1 on anything
 * else or on a broken file. Needs zlib for the image data.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define MAX_COLOURS 32
#define MAX_PIXELS (64u * 1024 * 1024)

struct image {
	uint32_t width, height;
	int channels;		/* 3 or 4 */
	unsigned char *idat;	/* compressed data, all IDAT chunks */
	size_t idat_len;
};

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int fail(const char *why)
{
	fprintf(stderr, "pngcheck: %s\n", why);
	return 1;
}

/* read_png - the header and the compressed data of the file at path. */
static int read_png(const char *path, struct image *im)
{
	static const unsigned char sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
	unsigned char hdr[8], *data;
	FILE *f = fopen(path, "rb");
	int rc = -1;

	if (f == NULL || fread(hdr, 1, 8, f) != 8 || memcmp(hdr, sig, 8) != 0)
		goto out;
	while (fread(hdr, 1, 8, f) == 8) {
		uint32_t len = be32(hdr);

		if (len > MAX_PIXELS || (data = malloc(len + 4u)) == NULL)
			goto out;
		if (fread(data, 1, len + 4u, f) != len + 4u) {	/* data and CRC */
			free(data);
			goto out;
		}
		if (memcmp(hdr + 4, "IHDR", 4) == 0 && len >= 13) {
			im->width = be32(data);
			im->height = be32(data + 4);
			im->channels = data[9] == 6 ? 4 : data[9] == 2 ? 3 : 0;
			if (data[8] != 8 || im->channels == 0 || data[12] != 0)
				im->width = 0;	/* not a format we read */
		} else if (memcmp(hdr + 4, "IDAT", 4) == 0) {
			im->idat = realloc(im->idat, im->idat_len + len);
			if (im->idat == NULL)
				exit(1);
			memcpy(im->idat + im->idat_len, data, len);
			im->idat_len += len;
		} else if (memcmp(hdr + 4, "IEND", 4) == 0) {
			rc = 0;
		}
		free(data);
		if (rc == 0)
			break;
	}
out:
	if (f != NULL)
		fclose(f);
	return rc == 0 && im->width > 0 && im->height > 0 &&
			       (uint64_t)im->width * im->height <= MAX_PIXELS ? 0 : -1;
}

static int paeth(int a, int b, int c)
{
	int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);

	return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/* unfilter - undo the per-row filters in place; 0 or -1. */
static int unfilter(unsigned char *raw, const struct image *im)
{
	size_t stride = (size_t)im->width * im->channels, bpp = (size_t)im->channels;

	for (uint32_t y = 0; y < im->height; y++) {
		unsigned char *row = raw + y * (stride + 1), *cur = row + 1;
		unsigned char *prev = y ? row - stride : NULL;

		for (size_t x = 0; x < stride; x++) {
			int a = x >= bpp ? cur[x - bpp] : 0, b = prev ? prev[x] : 0;
			int c = prev && x >= bpp ? prev[x - bpp] : 0;

			switch (row[0]) {
			case 0:
				break;
			case 1:
				cur[x] += a;
				break;
			case 2:
				cur[x] += b;
				break;
			case 3:
				cur[x] += (a + b) / 2;
				break;
			case 4:
				cur[x] += paeth(a, b, c);
				break;
			default:
				return -1;
			}
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct image im = { 0 };
	unsigned long want[MAX_COLOURS], count[MAX_COLOURS] = { 0 }, colours = 0;
	unsigned char *raw, *seen;
	uLongf raw_len;
	int n_want = argc - 2;

	if (argc < 2 || n_want > MAX_COLOURS)
		return fail("usage: pngcheck FILE [RRGGBB...]");
	for (int i = 0; i < n_want; i++)
		want[i] = strtoul(argv[i + 2], NULL, 16);
	if (read_png(argv[1], &im) != 0)
		return fail("not an 8-bit RGB or RGBA PNG, or broken");
	raw_len = (uLongf)im.height * ((uLongf)im.width * im.channels + 1);
	raw = malloc(raw_len);
	seen = calloc(1u << 21, 1);	/* one bit per 24-bit colour */
	if (raw == NULL || seen == NULL)
		return fail("out of memory");
	if (uncompress(raw, &raw_len, im.idat, im.idat_len) != Z_OK ||
	    raw_len != (uLongf)im.height * ((uLongf)im.width * im.channels + 1) ||
	    unfilter(raw, &im) != 0)
		return fail("bad image data");
	for (uint32_t y = 0; y < im.height; y++) {
		const unsigned char *p = raw + y * ((size_t)im.width * im.channels + 1) + 1;

		for (uint32_t x = 0; x < im.width; x++, p += im.channels) {
			unsigned long rgb = (unsigned long)p[0] << 16 | p[1] << 8 | p[2];

			if (!(seen[rgb >> 3] & (1u << (rgb & 7)))) {
				seen[rgb >> 3] |= (unsigned char)(1u << (rgb & 7));
				colours++;
			}
			for (int i = 0; i < n_want; i++)
				count[i] += rgb == want[i];
		}
	}
	printf("%u %u %lu\n", im.width, im.height, colours);
	for (int i = 0; i < n_want; i++)
		printf("%06lx %lu\n", want[i], count[i]);
	free(raw);
	free(seen);
	free(im.idat);
	return 0;
}

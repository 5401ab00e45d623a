/* .npy reader and writer: round trips, byte order, Fortran order, and
 * malformed headers rejected with a reason. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sinter/tensor_io.h"
#include "tests/support/check_main.h"

/* Builds a version-1.0 .npy image from a header dict and a payload. */
static size_t make_npy(unsigned char *buf, const char *dict, const void *payload, size_t n) {
  size_t k = strlen(dict);
  memcpy(buf, "\x93NUMPY\x01\x00", 8);
  buf[8] = (unsigned char)(k + 1);
  buf[9] = 0;
  memcpy(buf + 10, dict, k);
  buf[10 + k] = '\n';
  memcpy(buf + 11 + k, payload, n);
  return 11 + k + n;
}

START_TEST(roundtrip_f32) {
  char dir[] = "/tmp/sinter-npy-XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  char path[256];
  snprintf(path, sizeof(path), "%s/t.npy", dir);
  float v[6] = {1.5f, -2.0f, 3.25f, 0.0f, 1e-30f, 65504.0f};
  sinter_tensor_t t = {.dtype = SINTER_DTYPE_F32, .rank = 2, .dims = {2, 3}, .data = v,
                       .nbytes = sizeof(v)};
  ck_assert_ptr_null(sinter_npy_write_file(path, &t));
  sinter_tensor_t r;
  ck_assert_ptr_null(sinter_npy_read_file(path, &r));
  ck_assert_int_eq(r.dtype, SINTER_DTYPE_F32);
  ck_assert_int_eq(r.rank, 2);
  ck_assert_int_eq(r.dims[0], 2);
  ck_assert_int_eq(r.dims[1], 3);
  ck_assert_mem_eq(r.data, v, sizeof(v));
  sinter_tensor_free_data(&r);
  /* The data must start at a multiple of 64 bytes, as NumPy writes it. */
  FILE *f = fopen(path, "rb");
  unsigned char hdr[10];
  ck_assert_int_eq(fread(hdr, 1, 10, f), 10);
  fclose(f);
  ck_assert_int_eq((10 + (hdr[8] | hdr[9] << 8)) % 64, 0);
  unlink(path);
  rmdir(dir);
}
END_TEST

START_TEST(scalar_and_bool) {
  unsigned char buf[256];
  uint8_t b[3] = {1, 0, 1};
  size_t n = make_npy(buf, "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", b, 3);
  sinter_tensor_t t;
  ck_assert_ptr_null(sinter_npy_read_buffer(buf, n, "b.npy", &t));
  ck_assert_int_eq(t.dtype, SINTER_DTYPE_BOOL);
  ck_assert_int_eq(t.rank, 1);
  ck_assert_int_eq(t.dims[0], 3);
  sinter_tensor_free_data(&t);
  double d = 2.5;
  n = make_npy(buf, "{'descr': '<f8', 'fortran_order': False, 'shape': (), }", &d, 8);
  ck_assert_ptr_null(sinter_npy_read_buffer(buf, n, "s.npy", &t));
  ck_assert_int_eq(t.rank, 0);
  ck_assert(*(double *)t.data == 2.5);
  sinter_tensor_free_data(&t);
}
END_TEST

START_TEST(big_endian_and_fortran) {
  unsigned char buf[256];
  /* int32 1 and 258 stored big-endian. */
  unsigned char be[8] = {0, 0, 0, 1, 0, 0, 1, 2};
  size_t n = make_npy(buf, "{'descr': '>i4', 'fortran_order': False, 'shape': (2,), }", be, 8);
  sinter_tensor_t t;
  ck_assert_ptr_null(sinter_npy_read_buffer(buf, n, "be.npy", &t));
  ck_assert_int_eq(((int32_t *)t.data)[0], 1);
  ck_assert_int_eq(((int32_t *)t.data)[1], 258);
  sinter_tensor_free_data(&t);
  /* [[1,2,3],[4,5,6]] in column-major order is 1,4,2,5,3,6. */
  int16_t col[6] = {1, 4, 2, 5, 3, 6};
  n = make_npy(buf, "{'descr': '<i2', 'fortran_order': True, 'shape': (2, 3), }", col, 12);
  ck_assert_ptr_null(sinter_npy_read_buffer(buf, n, "f.npy", &t));
  int16_t want[6] = {1, 2, 3, 4, 5, 6};
  ck_assert_mem_eq(t.data, want, sizeof(want));
  sinter_tensor_free_data(&t);
}
END_TEST

START_TEST(malformed) {
  static const struct {
    const char *dict;
    size_t payload;
    const char *reason;
  } cases[] = {
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", 8, "truncated"},
      {"{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", 8, "unsupported .npy dtype"},
      {"{'descr': '<f4', 'shape': (1,), }", 4, "lacks"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", 4,
       "too large"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }", 4,
       "too large"},
      {"['descr']", 4, "not a dict"},
      {"{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,), }", 4, "fortran_order"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,2,3,4,5,6,7,8,9), }", 4, "rank"},
  };
  unsigned char buf[512], zeros[16] = {0};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    size_t n = make_npy(buf, cases[i].dict, zeros, cases[i].payload);
    sinter_tensor_t t;
    sinter_status_t st = sinter_npy_read_buffer(buf, n, "bad.npy", &t);
    ck_assert_msg(st != NULL, "case %zu accepted", i);
    ck_assert_msg(strstr(sinter_status_message(st), cases[i].reason), "case %zu: '%s'", i,
                  sinter_status_message(st));
    sinter_status_free(st);
  }
  sinter_tensor_t t;
  sinter_status_t st = sinter_npy_read_buffer("\x93NUMPZ", 6, "x.npy", &t);
  ck_assert_ptr_nonnull(st);
  sinter_status_free(st);
  st = sinter_npy_read_file("/nonexistent/x.npy", &t);
  ck_assert_int_eq(sinter_status_code(st), SINTER_IO_ERROR);
  sinter_status_free(st);
}
END_TEST

START_TEST(write_widens_bf16) {
  char dir[] = "/tmp/sinter-npy-XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  char path[256];
  snprintf(path, sizeof(path), "%s/b.npy", dir);
  uint16_t v[2] = {0x3f80, 0xc000}; /* bf16 1.0 and -2.0 */
  sinter_tensor_t t = {.dtype = SINTER_DTYPE_BF16, .rank = 1, .dims = {2}, .data = v,
                       .nbytes = 4};
  ck_assert_ptr_null(sinter_npy_write_file(path, &t));
  sinter_tensor_t r;
  ck_assert_ptr_null(sinter_npy_read_file(path, &r));
  ck_assert_int_eq(r.dtype, SINTER_DTYPE_F32);
  ck_assert(((float *)r.data)[0] == 1.0f && ((float *)r.data)[1] == -2.0f);
  sinter_tensor_free_data(&r);
  unlink(path);
  rmdir(dir);
}
END_TEST

int main(void) {
  Suite *s = suite_create("npy");
  TCase *tc = tcase_create("npy");
  tcase_add_test(tc, roundtrip_f32);
  tcase_add_test(tc, scalar_and_bool);
  tcase_add_test(tc, big_endian_and_fortran);
  tcase_add_test(tc, malformed);
  tcase_add_test(tc, write_widens_bf16);
  suite_add_tcase(s, tc);
  return run_suite(s);
}

/* What the calibration files share: the layout of the statistics object and
 * the histogram grid (calibrate.c, calib_range.c). */
#ifndef SINTER_CALIB_INTERNAL_H
#define SINTER_CALIB_INTERNAL_H

#include "sinter/calibrate.h"

#define CALIB_NB SINTER_CALIB_BINS_PER_SIGN

typedef struct calib_value_s {
  char *name;      /* malloc'ed copy of the value's name */
  uint32_t id;     /* the value's id in the graph the stats were made for */
  float min, max;  /* valid when count > 0 */
  uint64_t count, zeros;
  uint64_t *pos;   /* CALIB_NB bins of positive elements by |x| */
  uint64_t *neg;   /* CALIB_NB bins of negative elements by |x| */
} calib_value_t;

struct sinter_calib_stats_s {
  uint64_t graph_hash;
  uint64_t samples;
  int32_t n_values;
  calib_value_t *values;
  int32_t *index_of_id; /* value id -> index, -1 when not tracked */
  uint32_t n_ids;
};

#endif /* SINTER_CALIB_INTERNAL_H */

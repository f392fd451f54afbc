/* cblas_first.h: included before every translation unit (CMake passes -include).
 * OpenBLAS's <cblas.h> and GSL's <gsl/gsl_cblas.h> declare the same enums, and several GSL
 * headers (gsl_randist.h, gsl_matrix.h, ...) pull gsl_cblas.h in. Including OpenBLAS's header
 * first and marking GSL's as already included makes GSL use OpenBLAS's declarations, which are
 * the same values, so both can be used in one file. */
#ifndef BFC_CBLAS_FIRST_H
#define BFC_CBLAS_FIRST_H
#include <cblas.h>
#ifndef __GSL_CBLAS_H__
#define __GSL_CBLAS_H__
#endif
#endif

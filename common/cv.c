/* placeholder: implemented in issue 2 */
#include "cv.h"

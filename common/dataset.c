/* placeholder: implemented in issue 2 */
#include "dataset.h"

/* placeholder: implemented in issue 2 */
#include "idx.h"

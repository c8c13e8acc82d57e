/* placeholder: implemented in issue 2 */
#include "train.h"

/* placeholder: implemented in issue 2 */
#include "optim.h"

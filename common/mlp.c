/* placeholder: implemented in issue 2 */
#include "mlp.h"

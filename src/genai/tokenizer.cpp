// Placeholder: being written.
#include "genai/tokenizer.h"

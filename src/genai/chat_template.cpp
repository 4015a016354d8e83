// Placeholder: being written.
#include "genai/chat_template.h"

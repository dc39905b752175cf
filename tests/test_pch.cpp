// Carries the precompiled header that every test executable reuses.
#include "test_pch.h"

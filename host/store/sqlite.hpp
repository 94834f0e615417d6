#pragma once

// Renamed: the connection serves SQLite and PostgreSQL alike.
#include "store/database.hpp"

// Package config owns the settings every Sightline service shares. Each
// setting is a flag and an environment variable of the same name (flag
// --database-url, variable DATABASE_URL; a flag wins over the variable), and
// Validate checks them all at start, naming the bad setting in its message.
package config

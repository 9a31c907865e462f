// Command visibility runs the visibility service: who may see which CRM item
// (DESIGN V1–V10). See `visibility -h`.
package main

import (
	"github.com/sightline/sightline/pkg/cli"
	"github.com/sightline/sightline/services/visibility"
)

func main() { cli.Main(visibility.Service()) }

// Package policytest supports testing the visibility decision engine
// (package policy) and its users. It owns:
//
//   - a brute-force reference model of the visibility rules V1–V7 of
//     DESIGN.md ([ReferenceDecide], [ReferenceViewers], [ReferenceVisible],
//     [ReferenceFilter], [ReferenceValidate]), written separately from the
//     engine and without its data structures: ancestors are found by walking
//     parent pointers, users by linear scans. It never calls the engine; it
//     only shares its input and output types. It is slow on purpose: clarity
//     over speed;
//   - random company and item generators ([RandomCompany], [RandomItems]),
//     reproducible from a seeded *rand.Rand, for property tests that compare
//     the engine against the model.
//
// It is an ordinary package, not a _test file, so that the tests of other
// packages (the visibility service, its store) can import it.
package policytest

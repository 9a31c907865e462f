// Package policy is the visibility decision engine of the visibility service:
// the rules V1–V10 of DESIGN.md ("Visibility rules (normative)") as pure
// functions over an immutable, in-memory snapshot of one company.
//
// It owns:
//
//   - the domain types of a decision (users, groups, items, plans and their
//     enumerations, with Pipedrive's numeric visible_to values);
//   - [Build], which validates a [Company] (V1: one top-level default group,
//     a forest without cycles, every user in an existing group) and turns it
//     into a [Snapshot] whose ancestor test is O(1) (Euler-tour intervals);
//   - [Snapshot.Decide], the single-item decision (O(1) in company size, no
//     allocation), [Snapshot.Explain] (V10), [Snapshot.Viewers] and
//     [Snapshot.Filter], the owner-id sets a caller turns into a SQL WHERE
//     clause to list what a user may see;
//   - the plan rules V4 as pure functions ([Plan.GroupLimit],
//     [Plan.AllowsVisibleTo]) and the V1 cycle check for moving a group
//     ([Snapshot.MoveWouldCycle]).
//
// It does no I/O: no database, no gRPC, no logging. A Snapshot is never
// mutated after Build and may be read by any number of goroutines; to apply a
// change, edit a [Company] (see [Snapshot.Company]) and Build again.
//
// Package policytest holds a brute-force reference model of the same rules,
// written independently of this engine, and random company generators; the
// property tests check that both agree.
package policy

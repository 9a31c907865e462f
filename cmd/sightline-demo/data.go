package main

import (
	visibilityv1 "github.com/sightline/sightline/pkg/gen/sightline/visibility/v1"
)

// The demo company: Northwind, a software vendor with a sales team in
// groups, its customers as persons and deals, and Ada's mailbox. The ids are
// the CRM's and fixed, so the README's commands can name them.

const (
	demoCompany = 1
	mailDomain  = "northwind.example"
)

// User ids.
const (
	ada   = 1 // sales rep, Sales EMEA; the demo user with a connected mailbox
	bruno = 2 // sales rep, Sales DACH (a child group of Sales EMEA)
	chloe = 3 // sales rep, Sales EMEA (Ada's group)
	diego = 4 // sales rep, Sales Americas (the sibling of Sales EMEA)
	erin  = 5 // head of sales, Sales (the parent group)
	grace = 6 // app admin (account admin), default group
	frank = 7 // deal admin, default group
)

type demoUser struct {
	id          int64
	name, login string // login@northwind.example
	group       string // "" = the default group
	perms       *visibilityv1.Permissions
}

var users = []demoUser{
	{ada, "Ada Lovelace", "ada", "Sales EMEA", &visibilityv1.Permissions{ChangeVisibility: true}},
	{bruno, "Bruno Keller", "bruno", "Sales DACH", &visibilityv1.Permissions{ChangeVisibility: true}},
	{chloe, "Chloé Martin", "chloe", "Sales EMEA", &visibilityv1.Permissions{}},
	{diego, "Diego Ramírez", "diego", "Sales Americas", &visibilityv1.Permissions{}},
	{erin, "Erin Walsh", "erin", "Sales", &visibilityv1.Permissions{ChangeVisibility: true}},
	{grace, "Grace Hopper", "grace", "", &visibilityv1.Permissions{AppAdmin: true, AccountSettings: true, ChangeVisibility: true}},
	{frank, "Frank Moreau", "frank", "", &visibilityv1.Permissions{DealAdmin: true}},
}

func userEmail(u demoUser) string { return u.login + "@" + mailDomain }

// Groups, parents before children.
type demoGroup struct {
	name, parent string
	deal, person visibilityv1.VisibleTo // defaults for new deals and persons (V5)
}

var groups = []demoGroup{
	{"Sales", "", visibilityv1.VisibleTo_VISIBLE_TO_OWNER_GROUP, visibilityv1.VisibleTo_VISIBLE_TO_OWNER_GROUP_AND_SUBGROUPS},
	{"Sales EMEA", "Sales", visibilityv1.VisibleTo_VISIBLE_TO_OWNER_GROUP, visibilityv1.VisibleTo_VISIBLE_TO_OWNER_GROUP_AND_SUBGROUPS},
	{"Sales Americas", "Sales", visibilityv1.VisibleTo_VISIBLE_TO_OWNER, visibilityv1.VisibleTo_VISIBLE_TO_OWNER},
	{"Sales DACH", "Sales EMEA", visibilityv1.VisibleTo_VISIBLE_TO_OWNER_GROUP, visibilityv1.VisibleTo_VISIBLE_TO_OWNER_GROUP_AND_SUBGROUPS},
}

// Pipelines; Enterprise is hidden from Sales Americas (V7).
const (
	pipelineNewBusiness = 1
	pipelineRenewals    = 2
	pipelineEnterprise  = 3
	hiddenPipelineGroup = "Sales Americas"
)

var pipelines = []*visibilityv1.Pipeline{
	{Id: pipelineNewBusiness, Name: "New business"},
	{Id: pipelineRenewals, Name: "Renewals"},
	{Id: pipelineEnterprise, Name: "Enterprise"},
}

// Organizations, persons and deals.
const (
	orgGlobex   = 301
	orgInitech  = 302
	orgUmbrella = 303
	orgStark    = 304

	hank   = 201 // Globex; one open deal (101): his threads link to it (M7)
	peter  = 202 // Initech; deal 102
	wesker = 203 // Umbrella; deal 103
	pepper = 204 // Stark; deal 104
	milton = 205 // Initech; two open deals (102, 106): nothing is chosen automatically

	dealGlobex       = 101
	dealInitech      = 102
	dealUmbrella     = 103
	dealStark        = 104
	dealGlobexAddon  = 105 // won: receives no new links
	dealInitechExtra = 106
)

type demoPerson struct {
	id, org int64
	name    string
	email   string
}

var persons = []demoPerson{
	{hank, orgGlobex, "Hank Scorpio", "hank@globex.example"},
	{peter, orgInitech, "Peter Gibbons", "peter@initech.example"},
	{wesker, orgUmbrella, "Albert Wesker", "wesker@umbrella.example"},
	{pepper, orgStark, "Pepper Potts", "pepper@stark.example"},
	{milton, orgInitech, "Milton Waddams", "milton@initech.example"},
}

type demoDeal struct {
	id       int64
	title    string
	open     bool
	persons  []int64
	owner    int64
	pipeline int64
	visible  visibilityv1.VisibleTo
}

var deals = []demoDeal{
	{dealGlobex, "Globex: 50 seats", true, []int64{hank}, ada, pipelineNewBusiness, visibilityv1.VisibleTo_VISIBLE_TO_OWNER_GROUP},
	{dealInitech, "Initech: renewal", true, []int64{peter, milton}, ada, pipelineRenewals, visibilityv1.VisibleTo_VISIBLE_TO_OWNER_GROUP_AND_SUBGROUPS},
	{dealUmbrella, "Umbrella: expansion", true, []int64{wesker}, bruno, pipelineEnterprise, visibilityv1.VisibleTo_VISIBLE_TO_ENTIRE_COMPANY},
	{dealStark, "Stark: pilot", true, []int64{pepper}, diego, pipelineNewBusiness, visibilityv1.VisibleTo_VISIBLE_TO_OWNER},
	{dealGlobexAddon, "Globex: support add-on", false, []int64{hank}, ada, pipelineRenewals, visibilityv1.VisibleTo_VISIBLE_TO_OWNER_GROUP},
	{dealInitechExtra, "Initech: red staplers", true, []int64{milton}, chloe, pipelineNewBusiness, visibilityv1.VisibleTo_VISIBLE_TO_OWNER_GROUP},
}

// Ada follows Diego's Stark deal (she introduced the customer).
var follows = map[int64][]int64{dealStark: {ada}}

// items returns the visibility registry entries of the demo: deals, persons and organizations.
func items() []*visibilityv1.Item {
	var out []*visibilityv1.Item
	for _, d := range deals {
		out = append(out, &visibilityv1.Item{Type: visibilityv1.ItemType_ITEM_TYPE_DEAL, Id: d.id, OwnerId: d.owner,
			VisibleTo: d.visible, PipelineId: d.pipeline})
	}
	personItem := func(id, owner int64, v visibilityv1.VisibleTo) *visibilityv1.Item {
		return &visibilityv1.Item{Type: visibilityv1.ItemType_ITEM_TYPE_PERSON, Id: id, OwnerId: owner, VisibleTo: v}
	}
	out = append(out,
		personItem(hank, ada, visibilityv1.VisibleTo_VISIBLE_TO_OWNER_GROUP),
		personItem(peter, ada, visibilityv1.VisibleTo_VISIBLE_TO_OWNER_GROUP_AND_SUBGROUPS),
		personItem(wesker, bruno, visibilityv1.VisibleTo_VISIBLE_TO_OWNER_GROUP),
		personItem(pepper, diego, visibilityv1.VisibleTo_VISIBLE_TO_OWNER),
		personItem(milton, chloe, visibilityv1.VisibleTo_VISIBLE_TO_OWNER_GROUP_AND_SUBGROUPS),
	)
	orgs := []struct {
		id, owner int64
		visible   visibilityv1.VisibleTo
	}{
		{orgGlobex, ada, visibilityv1.VisibleTo_VISIBLE_TO_OWNER_GROUP},
		{orgInitech, ada, visibilityv1.VisibleTo_VISIBLE_TO_ENTIRE_COMPANY},
		{orgUmbrella, bruno, visibilityv1.VisibleTo_VISIBLE_TO_ENTIRE_COMPANY},
		{orgStark, diego, visibilityv1.VisibleTo_VISIBLE_TO_ENTIRE_COMPANY},
	}
	for _, o := range orgs {
		out = append(out, &visibilityv1.Item{Type: visibilityv1.ItemType_ITEM_TYPE_ORGANIZATION, Id: o.id, OwnerId: o.owner, VisibleTo: o.visible})
	}
	return out
}

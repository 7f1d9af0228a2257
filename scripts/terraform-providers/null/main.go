// Stand-in for registry.terraform.io/hashicorp/null 3.2.4, written for this
// project because the upstream source (hashicorp/terraform-provider-null) is
// not obtainable through the Go module proxy reachable here. It implements
// the documented 3.2.4 schema: resource null_resource {id, triggers} and the
// deprecated data source null_data_source {inputs, outputs, random,
// has_computed_default, id}. Built by scripts/setup-terraform.sh.
package main

import (
	"context"
	"log"
	"math/rand"
	"strconv"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	dschema "github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	rschema "github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/mapplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

var version = "dev" // set with -ldflags "-X main.version=..."

func main() {
	err := providerserver.Serve(context.Background(), func() provider.Provider { return &nullProvider{} },
		providerserver.ServeOpts{Address: "registry.terraform.io/hashicorp/null", ProtocolVersion: 5})
	if err != nil {
		log.Fatal(err)
	}
}

func randomID() string { return strconv.Itoa(rand.Int()) }

// ---- provider ----

type nullProvider struct{}

func (p *nullProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName, resp.Version = "null", version
}
func (p *nullProvider) Schema(context.Context, provider.SchemaRequest, *provider.SchemaResponse) {}
func (p *nullProvider) Configure(context.Context, provider.ConfigureRequest, *provider.ConfigureResponse) {
}
func (p *nullProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{func() resource.Resource { return &nullResource{} }}
}
func (p *nullProvider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{func() datasource.DataSource { return &nullDataSource{} }}
}

// ---- resource null_resource ----

type nullResource struct{}

type resourceModel struct {
	ID       types.String `tfsdk:"id"`
	Triggers types.Map    `tfsdk:"triggers"`
}

func (r *nullResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_resource"
}

func (r *nullResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = rschema.Schema{
		Description: "A resource that does nothing; replaced when any value in triggers changes.",
		Attributes: map[string]rschema.Attribute{
			"id": rschema.StringAttribute{
				Description:   "This is set to a random value at create time.",
				Computed:      true,
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"triggers": rschema.MapAttribute{
				Description:   "A map of arbitrary strings that, when changed, will force the null resource to be replaced.",
				ElementType:   types.StringType,
				Optional:      true,
				PlanModifiers: []planmodifier.Map{mapplanmodifier.RequiresReplace()},
			},
		},
	}
}

func (r *nullResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m resourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	m.ID = types.StringValue(randomID())
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}

func (r *nullResource) Read(context.Context, resource.ReadRequest, *resource.ReadResponse) {}

func (r *nullResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var m resourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}

func (r *nullResource) Delete(context.Context, resource.DeleteRequest, *resource.DeleteResponse) {}

// ---- data source null_data_source (deprecated upstream, kept for schema parity) ----

type nullDataSource struct{}

type dataModel struct {
	HasComputedDefault types.String `tfsdk:"has_computed_default"`
	ID                 types.String `tfsdk:"id"`
	Inputs             types.Map    `tfsdk:"inputs"`
	Outputs            types.Map    `tfsdk:"outputs"`
	Random             types.String `tfsdk:"random"`
}

func (d *nullDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_data_source"
}

func (d *nullDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = dschema.Schema{
		DeprecationMessage: "The null_data_source was historically used to construct intermediate values to re-use elsewhere in configuration, the same can now be achieved using locals or the terraform_data resource type in Terraform 1.4 and later.",
		Attributes: map[string]dschema.Attribute{
			"has_computed_default": dschema.StringAttribute{Optional: true, Computed: true,
				Description: "If set, its literal value will be stored and returned. If not, its value defaults to \"default\"."},
			"id": dschema.StringAttribute{Computed: true,
				DeprecationMessage: "This attribute is only present for some legacy compatibility issues and should not be used. It will be removed in a future version."},
			"inputs":  dschema.MapAttribute{ElementType: types.StringType, Optional: true, Description: "A map of arbitrary strings that is copied into the outputs attribute."},
			"outputs": dschema.MapAttribute{ElementType: types.StringType, Computed: true, Description: "After the data source is read, the same map as inputs."},
			"random":  dschema.StringAttribute{Computed: true, Description: "A random value, regenerated every read."},
		},
	}
}

func (d *nullDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m dataModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if m.HasComputedDefault.IsNull() || m.HasComputedDefault.IsUnknown() {
		m.HasComputedDefault = types.StringValue("default")
	}
	if m.Inputs.IsNull() || m.Inputs.IsUnknown() {
		m.Outputs = types.MapNull(types.StringType)
	} else {
		m.Outputs = m.Inputs
	}
	m.Random = types.StringValue(randomID())
	m.ID = types.StringValue("static")
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}

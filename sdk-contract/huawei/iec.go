// The IEC suite: services/iec/v1 against the emulator's IEC families, plus the IAM calls the SDK's
// credentials make (domain discovery for global credentials, project discovery for basic ones).
package main

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	hc "github.com/huaweicloud/huaweicloud-sdk-go-v3/core"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/basic"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/global"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/config"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/region"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/sdkerr"
	iec "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/iec/v1"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/iec/v1/model"
)

func init() {
	register(Suite{
		Cloud:   "Huawei Cloud",
		Service: "iec",
		Package: "huaweicloud-sdk-go-v3 services/iec/v1",
		Client:  (*iec.IecClient)(nil),
		Run:     runIEC,
	})
}

// The emulator's built-in catalog (docs/emulator.md) and the IPv6 line of sdk-contract/huawei/emulator.yaml.
const (
	regionID    = "cn-north-4"
	siteZS      = "a0272146-f6d8-4e3f-a1dc-196ec4a2f856"
	lineZS      = "5_unicon_site3"
	lineZSv6    = "5_ipv6_site3"
	imageCentOS = "00000000-0000-0000-0000-000000000002"
	imageUbuntu = "00000000-0000-0000-0000-000000000008"
	flavor      = "c6.large.2"
	missingID   = "d88eb9ef-0000-4000-8000-000000000000"
)

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

func s(v string) *string { return &v }
func i32(v int32) *int32 { return &v }
func b(v bool) *bool     { return &v }

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func httpConfig() *config.HttpConfig {
	return config.DefaultHttpConfig().WithTimeout(30 * time.Second)
}

// newIEC builds an IEC client the way a user would: global credentials, the region (whose endpoint is
// the emulator) and the IAM endpoint overridden to the emulator. Without a domain id the SDK finds it
// through GET /v3/auth/domains while building.
func newIEC(env Env, ak, sk, domainID string) (*iec.IecClient, *global.Credentials, error) {
	cb := global.NewCredentialsBuilder().WithAk(ak).WithSk(sk).WithIamEndpointOverride(env.Endpoint)
	if domainID != "" {
		cb = cb.WithDomainId(domainID)
	}
	cred, err := cb.SafeBuild()
	if err != nil {
		return nil, nil, err
	}
	client, err := iec.IecClientBuilder().
		WithRegion(region.NewRegion(regionID, env.Endpoint)).
		WithCredential(cred).
		WithHttpConfig(httpConfig()).
		SafeBuild()
	if err != nil {
		return nil, cred, err
	}
	return iec.NewIecClient(client), cred, nil
}

func require(ids ...string) error {
	for _, id := range ids {
		if id == "" {
			return errors.New("skipped: an earlier step did not produce the id it needs")
		}
	}
	return nil
}

// waitInstance polls ShowInstance until the instance has status want (transitions are immediate with
// --zero-delays but happen on the next request).
func waitInstance(c *iec.IecClient, id, want string) error {
	last := ""
	for i := 0; i < 100; i++ {
		resp, err := c.ShowInstance(&model.ShowInstanceRequest{ServerId: id})
		if err != nil {
			return err
		}
		last = str(resp.Server.Status)
		if last == want {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("instance %s is %s, want %s", id, last, want)
}

func waitGone(c *iec.IecClient, id string) error {
	for i := 0; i < 100; i++ {
		_, err := c.ShowInstance(&model.ShowInstanceRequest{ServerId: id})
		var se *sdkerr.ServiceResponseError
		if errors.As(err, &se) && se.StatusCode == 404 {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("instance %s is still there", id)
}

func waitEdgeCloud(c *iec.IecClient, id, want string) error {
	last := ""
	for i := 0; i < 100; i++ {
		resp, err := c.ShowEdgeCloud(&model.ShowEdgeCloudRequest{EdgecloudId: id})
		if err != nil {
			return err
		}
		last = str(resp.Status)
		if last == want {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("edge cloud %s is %s, want %s", id, last, want)
}

func runIEC(env Env, r *Recorder) {
	var c *iec.IecClient
	var domainID string
	r.Check("iam: global credentials without a domain id find it with GET /v3/auth/domains", func() error {
		client, cred, err := newIEC(env, env.AK, env.SK, "")
		if err != nil {
			return err
		}
		if cred.DomainId != env.DomainID {
			return fmt.Errorf("discovered domain id %q, want %q", cred.DomainId, env.DomainID)
		}
		c, domainID = client, cred.DomainId
		return nil
	})
	if c == nil {
		client, _, err := newIEC(env, env.AK, env.SK, env.DomainID)
		if err != nil {
			r.Check("iec: a client with an explicit domain id", func() error { return err })
			return
		}
		c, domainID = client, env.DomainID
	}
	r.Check("iam: basic credentials find the project with GET /v3/projects?name=cn-north-4", func() error {
		cred, err := basic.NewCredentialsBuilder().WithAk(env.AK).WithSk(env.SK).
			WithIamEndpointOverride(env.Endpoint).SafeBuild()
		if err != nil {
			return err
		}
		_, err = hc.NewHcHttpClientBuilder().WithCredentialsType("basic.Credentials").WithCredential(cred).
			WithRegion(region.NewRegion(regionID, env.Endpoint)).WithHttpConfig(httpConfig()).SafeBuild()
		if err != nil {
			return err
		}
		if !hex32.MatchString(cred.ProjectId) {
			return fmt.Errorf("discovered project id %q", cred.ProjectId)
		}
		return nil
	})
	r.Check("iam: domain discovery with an unknown access key is a 401 ServiceResponseError", func() error {
		_, _, err := newIEC(env, "UNKNOWNAK00000000000", env.SK, "")
		var se *sdkerr.ServiceResponseError
		if !errors.As(err, &se) || se.StatusCode != 401 {
			return fmt.Errorf("got %v, want a 401 ServiceResponseError", err)
		}
		return nil
	})
	r.Check("auth: a wrong secret key is 401 APIGW.0301", func() error {
		bad, _, err := newIEC(env, env.AK, "WRONGSECRET", domainID)
		if err != nil {
			return err
		}
		_, err = bad.ListVpcs(&model.ListVpcsRequest{})
		return ExpectServiceError(err, 401, "APIGW.0301")
	})
	r.Check("auth: an unknown access key is 401 APIGW.0301", func() error {
		bad, _, err := newIEC(env, "UNKNOWNAK00000000000", env.SK, domainID)
		if err != nil {
			return err
		}
		_, err = bad.ListSites(&model.ListSitesRequest{})
		return ExpectServiceError(err, 401, "APIGW.0301")
	})

	catalog(c, r)
	v := network(c, r)
	compute(c, r, v, domainID)
	edgeClouds(c, r)
	teardown(c, r, v)
	notFound(c, r)
}

func catalog(c *iec.IecClient, r *Recorder) {
	r.Op("ListSites", func() error {
		resp, err := c.ListSites(&model.ListSitesRequest{})
		if err == nil && (resp.Sites == nil || len(*resp.Sites) == 0) {
			err = errors.New("no sites")
		}
		return err
	})
	r.Op("ListFlavors", func() error {
		resp, err := c.ListFlavors(&model.ListFlavorsRequest{})
		if err == nil && (resp.Flavors == nil || len(*resp.Flavors) == 0) {
			err = errors.New("no flavors")
		}
		return err
	})
	r.Op("ListImages", func() error {
		resp, err := c.ListImages(&model.ListImagesRequest{Limit: i32(10)})
		if err == nil && (resp.Images == nil || len(*resp.Images) == 0 || resp.Total == nil) {
			err = errors.New("no images or no total")
		}
		return err
	})
	r.Op("ShowImage", func() error {
		resp, err := c.ShowImage(&model.ShowImageRequest{ImageId: imageCentOS})
		if err == nil && str(resp.Id) != imageCentOS {
			err = fmt.Errorf("image id %q", str(resp.Id))
		}
		return err
	})
	r.Op("ListCloudImages", func() error {
		resp, err := c.ListCloudImages(&model.ListCloudImagesRequest{RegionId: regionID, Limit: i32(2)})
		if err == nil && (resp.Images == nil || len(*resp.Images) == 0) {
			err = errors.New("no central images")
		}
		return err
	})
	r.Op("ListQuota", func() error {
		resp, err := c.ListQuota(&model.ListQuotaRequest{})
		if err == nil && resp.Quotas == nil {
			err = errors.New("no quotas")
		}
		return err
	})
	r.Op("ListBandwidthTypes", func() error {
		resp, err := c.ListBandwidthTypes(&model.ListBandwidthTypesRequest{})
		if err == nil && resp.ShareBandwidthTypes == nil {
			err = errors.New("no bandwidth types")
		}
		return err
	})
	r.Op("ShowVolumeTypes", func() error {
		resp, err := c.ShowVolumeTypes(&model.ShowVolumeTypesRequest{})
		if err == nil && (resp.VolumeTypes == nil || len(*resp.VolumeTypes) == 0) {
			err = errors.New("no volume types")
		}
		return err
	})
}

// net holds the ids the network part creates for the later parts.
type net struct {
	vpc, subnet, subnetV6, sg, rule string
}

func network(c *iec.IecClient, r *Recorder) net {
	var n net
	r.Op("CreateVpc", func() error {
		resp, err := c.CreateVpc(&model.CreateVpcRequest{Body: &model.CreateVpcRequestBody{
			Vpc: &model.CreateVpcOption{Name: "sdk-net", Cidr: "192.168.0.0/16", Mode: "CUSTOMER"}}})
		if err == nil {
			n.vpc = str(resp.Vpc.Id)
		}
		return err
	})
	r.Op("ShowVpc", func() error {
		if err := require(n.vpc); err != nil {
			return err
		}
		resp, err := c.ShowVpc(&model.ShowVpcRequest{VpcId: n.vpc})
		if err == nil && str(resp.Vpc.Name) != "sdk-net" {
			err = fmt.Errorf("name %q", str(resp.Vpc.Name))
		}
		return err
	})
	r.Op("UpdateVpc", func() error {
		if err := require(n.vpc); err != nil {
			return err
		}
		resp, err := c.UpdateVpc(&model.UpdateVpcRequest{VpcId: n.vpc, Body: &model.UpdateVpcRequestBody{
			Vpc: &model.UpdateVpcOption{Name: s("sdk-net-1")}}})
		if err == nil && str(resp.Vpc.Name) != "sdk-net-1" {
			err = fmt.Errorf("name %q", str(resp.Vpc.Name))
		}
		return err
	})
	r.Op("ListVpcs", func() error {
		resp, err := c.ListVpcs(&model.ListVpcsRequest{})
		if err == nil && (resp.Vpcs == nil || len(*resp.Vpcs) != 1) {
			err = errors.New("want one VPC")
		}
		return err
	})
	r.Op("CreateSubnet", func() error {
		if err := require(n.vpc); err != nil {
			return err
		}
		resp, err := c.CreateSubnet(&model.CreateSubnetRequest{Body: &model.CreateSubnetRequestBody{
			Subnet: &model.CreateSubnetOption{Name: "sdk-sub", Cidr: "192.168.1.0/24", GatewayIp: "192.168.1.1",
				VpcId: n.vpc, SiteId: siteZS, DhcpEnable: b(true)}}})
		if err == nil {
			n.subnet = str(resp.Subnet.Id)
		}
		return err
	})
	r.Op("UpdateSubnet", func() error {
		if err := require(n.subnet); err != nil {
			return err
		}
		resp, err := c.UpdateSubnet(&model.UpdateSubnetRequest{SubnetId: n.subnet, Body: &model.UpdateSubnetRequestBody{
			Subnet: &model.UpdateSubnetOption{Ipv6Enable: b(true), PoolId: s(lineZSv6)}}})
		if err == nil && (resp.Subnet == nil || resp.Subnet.Ipv6Enable == nil || !*resp.Subnet.Ipv6Enable) {
			err = errors.New("IPv6 not enabled")
		}
		return err
	})
	r.Op("ShowSubnet", func() error {
		if err := require(n.subnet); err != nil {
			return err
		}
		resp, err := c.ShowSubnet(&model.ShowSubnetRequest{SubnetId: n.subnet})
		if err == nil {
			n.subnetV6 = str(resp.Subnet.NeutronSubnetIdV6)
			if n.subnetV6 == "" || str(resp.Subnet.CidrV6) == "" {
				err = errors.New("no IPv6 subnet after enabling it")
			}
		}
		return err
	})
	r.Op("ListSubnets", func() error {
		resp, err := c.ListSubnets(&model.ListSubnetsRequest{VpcId: s(n.vpc)})
		if err == nil && (resp.Subnets == nil || len(*resp.Subnets) != 1) {
			err = errors.New("want one subnet")
		}
		return err
	})
	r.Op("CreateSecurityGroup", func() error {
		resp, err := c.CreateSecurityGroup(&model.CreateSecurityGroupRequest{Body: &model.CreateSecurityGroupRequestBody{
			SecurityGroup: &model.CreateSecurityGroupOption{Name: "sdk-sg", Description: s("contract suite")}}})
		if err == nil {
			n.sg = str(resp.SecurityGroup.Id)
		}
		return err
	})
	r.Op("CreateSecurityGroupRule", func() error {
		if err := require(n.sg); err != nil {
			return err
		}
		ipv4 := model.GetCreateSecurityGroupRuleOptionEthertypeEnum().I_PV4
		resp, err := c.CreateSecurityGroupRule(&model.CreateSecurityGroupRuleRequest{
			Body: &model.CreateSecurityGroupRuleRequestBody{SecurityGroupRule: &model.CreateSecurityGroupRuleOption{
				SecurityGroupId: n.sg, Direction: model.GetCreateSecurityGroupRuleOptionDirectionEnum().INGRESS,
				Ethertype: &ipv4, Protocol: s("tcp"), PortRangeMin: i32(22), PortRangeMax: i32(22),
				RemoteIpPrefix: s("10.0.0.0/8"), Action: s("allow"), Priority: i32(5)}}})
		if err == nil {
			n.rule = str(resp.SecurityGroupRule.Id)
			if str(resp.SecurityGroupRule.PortRangeMin) != "22" {
				err = fmt.Errorf("port_range_min %q", str(resp.SecurityGroupRule.PortRangeMin))
			}
		}
		return err
	})
	r.Op("ShowSecurityGroupRule", func() error {
		if err := require(n.rule); err != nil {
			return err
		}
		resp, err := c.ShowSecurityGroupRule(&model.ShowSecurityGroupRuleRequest{SecurityGroupRuleId: n.rule})
		if err == nil && str(resp.SecurityGroupRule.PortRangeMax) != "22" {
			err = fmt.Errorf("port_range_max %q", str(resp.SecurityGroupRule.PortRangeMax))
		}
		return err
	})
	r.Op("ListSecurityGroupRules", func() error {
		resp, err := c.ListSecurityGroupRules(&model.ListSecurityGroupRulesRequest{SecurityGroupId: s(n.sg)})
		if err == nil && (resp.SecurityGroupRules == nil || len(*resp.SecurityGroupRules) < 1) {
			err = errors.New("no rules")
		}
		return err
	})
	r.Op("ShowSecurityGroup", func() error {
		if err := require(n.sg); err != nil {
			return err
		}
		resp, err := c.ShowSecurityGroup(&model.ShowSecurityGroupRequest{SecurityGroupId: n.sg})
		if err == nil && (resp.SecurityGroup.SecurityGroupRules == nil || len(*resp.SecurityGroup.SecurityGroupRules) < 1) {
			err = errors.New("no embedded rules")
		}
		return err
	})
	r.Op("ListSecurityGroups", func() error {
		resp, err := c.ListSecurityGroups(&model.ListSecurityGroupsRequest{})
		if err == nil && (resp.SecurityGroups == nil || len(*resp.SecurityGroups) != 1) {
			err = errors.New("want one security group")
		}
		return err
	})
	return n
}

func compute(c *iec.IecClient, r *Recorder, n net, domainID string) {
	var server, vip, vipAddr, vip6, eip, bandwidth, fw, rtb, image, registered, job, volume string
	r.Op("CreateKeypair", func() error {
		resp, err := c.CreateKeypair(&model.CreateKeypairRequest{Body: &model.CreateKeypairRequestBody{Name: "sdk-key"}})
		if err == nil && (str(resp.PrivateKey) == "" || str(resp.Fingerprint) == "") {
			err = errors.New("a generated keypair has no private key or fingerprint")
		}
		return err
	})
	r.Op("ShowKeypair", func() error {
		resp, err := c.ShowKeypair(&model.ShowKeypairRequest{KeypairName: "sdk-key"})
		if err == nil && str(resp.Name) != "sdk-key" {
			err = fmt.Errorf("name %q", str(resp.Name))
		}
		return err
	})
	r.Op("ListKeypairs", func() error {
		resp, err := c.ListKeypairs(&model.ListKeypairsRequest{})
		if err == nil && (resp.Body == nil || len(*resp.Body) != 1) {
			err = errors.New("want one keypair")
		}
		return err
	})
	r.Op("CreateInstance", func() error {
		if err := require(n.vpc, n.subnet, n.sg); err != nil {
			return err
		}
		resp, err := c.CreateInstance(&model.CreateInstanceRequest{Body: &model.CreateInstanceRequestBody{
			Server: &model.CreateInstanceOption{Name: "sdk-vm", ImageRef: imageCentOS, FlavorRef: flavor,
				KeyName: s("sdk-key"), Count: 1,
				NetConfig:      &model.NetConfigInstance{VpcId: n.vpc, Subnets: []model.SubnetConfig{{Id: n.subnet}}},
				RootVolume:     &model.RootVolume{Size: 40, VolumeType: "SAS"},
				SecurityGroups: &[]model.SecurityGroupOption{{Id: s(n.sg)}},
				Coverage: &model.CoverageInstance{CoveragePolicy: "centralize", CoverageLevel: "site",
					CoverageSites: []model.CoverageSiteInstance{{Site: siteZS,
						Demands: []model.DemandInstance{{PoolId: s(lineZS)}}}}}}}})
		if err == nil {
			if resp.ServerIds == nil || len(*resp.ServerIds) != 1 {
				return errors.New("want one server id")
			}
			server = (*resp.ServerIds)[0]
		}
		return err
	})
	r.Op("ShowInstance", func() error {
		if err := require(server); err != nil {
			return err
		}
		return waitInstance(c, server, "ACTIVE")
	})
	r.Op("ListInstances", func() error {
		resp, err := c.ListInstances(&model.ListInstancesRequest{SiteId: s(siteZS)})
		if err == nil && (resp.Servers == nil || len(*resp.Servers) != 1) {
			err = errors.New("want one instance")
		}
		return err
	})
	r.Op("UpdateInstance", func() error {
		if err := require(server); err != nil {
			return err
		}
		resp, err := c.UpdateInstance(&model.UpdateInstanceRequest{ServerId: server, Body: &model.UpdateInstanceRequestBody{
			Server: &model.UpdateInstanceOption{Description: s("driven by the official SDK")}}})
		if err == nil && str(resp.Description) != "driven by the official SDK" {
			err = fmt.Errorf("description %q", str(resp.Description))
		}
		return err
	})
	r.Op("ListVolume", func() error {
		resp, err := c.ListVolume(&model.ListVolumeRequest{})
		if err == nil {
			if resp.Volumes == nil || len(*resp.Volumes) != 1 {
				return errors.New("want one volume")
			}
			volume = str((*resp.Volumes)[0].Id)
		}
		return err
	})
	r.Op("ShowVolume", func() error {
		if err := require(volume); err != nil {
			return err
		}
		resp, err := c.ShowVolume(&model.ShowVolumeRequest{VolumeId: volume})
		if err == nil && str(resp.Volume.VolumeType) != "SAS" {
			err = fmt.Errorf("volume type %q", str(resp.Volume.VolumeType))
		}
		return err
	})
	r.Op("BatchStopInstance", func() error {
		if err := require(server); err != nil {
			return err
		}
		resp, err := c.BatchStopInstance(&model.BatchStopInstanceRequest{Body: &model.BatchStopInstanceRequestBody{
			OsStop: &model.BatchStop{Servers: []model.BaseId{{Id: server}}}}})
		if err == nil && (resp.Jobs == nil || len(*resp.Jobs) != 1) {
			return errors.New("want one job")
		}
		if err == nil {
			err = waitInstance(c, server, "SHUTOFF")
		}
		return err
	})
	r.Op("ChangeOs", func() error {
		if err := require(server); err != nil {
			return err
		}
		resp, err := c.ChangeOs(&model.ChangeOsRequest{InstanceId: server, Body: &model.ChangeOsOption{
			ImageId: imageUbuntu, KeyName: s("sdk-key")}})
		if err == nil && str(resp.JobId) == "" {
			return errors.New("no job id")
		}
		if err == nil {
			err = waitInstance(c, server, "ACTIVE")
		}
		return err
	})
	r.Op("BatchStartInstance", func() error {
		if err := require(server); err != nil {
			return err
		}
		_, err := c.BatchStartInstance(&model.BatchStartInstanceRequest{Body: &model.BatchStartInstanceRequestBody{
			OsStart: &model.BatchStart{Servers: &[]model.BaseId{{Id: server}}}}})
		return err
	})
	r.Op("BatchRebootInstance", func() error {
		if err := require(server); err != nil {
			return err
		}
		soft := model.GetBatchRebootTypeEnum().SOFT
		_, err := c.BatchRebootInstance(&model.BatchRebootInstanceRequest{Body: &model.BatchRebootInstanceRequestBody{
			Reboot: &model.BatchReboot{Servers: &[]model.BaseId{{Id: server}}, Type: &soft}}})
		if err == nil {
			err = waitInstance(c, server, "ACTIVE")
		}
		return err
	})
	ports := func() (map[string]string, error) {
		resp, err := c.ListPorts(&model.ListPortsRequest{DeviceId: s(server)})
		if err != nil {
			return nil, err
		}
		out := map[string]string{}
		for _, p := range *resp.Ports {
			addr := ""
			if p.FixedIps != nil && len(*p.FixedIps) > 0 {
				addr = str((*p.FixedIps)[0].IpAddress)
			}
			out[str(p.Id)] = addr
		}
		return out, nil
	}
	var nic string
	r.Op("AddNics", func() error {
		if err := require(server); err != nil {
			return err
		}
		before, err := ports()
		if err != nil {
			return err
		}
		resp, err := c.AddNics(&model.AddNicsRequest{InstanceId: server, Body: &model.AddNicsRequestBody{
			VpcId: n.vpc, SubnetId: s(n.subnet), NicNum: 1, SecurityGroups: []model.BaseId{{Id: n.sg}}}})
		if err != nil {
			return err
		}
		if str(resp.JobId) == "" {
			return errors.New("no job id")
		}
		after, err := ports()
		if err != nil {
			return err
		}
		for id := range after {
			if _, old := before[id]; !old {
				nic = id
			}
		}
		if nic == "" {
			return errors.New("no new NIC in ListPorts")
		}
		return nil
	})
	r.Op("DeleteNics", func() error {
		if err := require(server, nic); err != nil {
			return err
		}
		_, err := c.DeleteNics(&model.DeleteNicsRequest{InstanceId: server, Body: &model.DeleteNicsRequestBody{
			Nics: []model.NicId{{Id: nic}}}})
		return err
	})
	r.Op("CreateImage", func() error {
		if err := require(server); err != nil {
			return err
		}
		resp, err := c.CreateImage(&model.CreateImageRequest{Body: &model.CreateImageRequestBody{
			Name: "sdk-image", InstanceId: server}})
		if err == nil {
			image = str(resp.ImageId)
			if resp.JobId == "" || image == "" {
				err = errors.New("no job or image id")
			}
		}
		return err
	})
	r.Op("ShowImage", func() error {
		if err := require(image); err != nil {
			return err
		}
		resp, err := c.ShowImage(&model.ShowImageRequest{ImageId: image})
		if err == nil && str(resp.Name) != "sdk-image" {
			err = fmt.Errorf("name %q", str(resp.Name))
		}
		return err
	})
	r.Op("RegisterImage", func() error {
		resp, err := c.RegisterImage(&model.RegisterImageRequest{Body: &model.RegisterImageRequestBody{
			ImageId: s("940246bd-f7f4-4341-a523-48ecc67e3642"), RegionId: s(regionID)}})
		if err == nil {
			registered, job = str(resp.ImageId), resp.JobId
			if registered == "" || job == "" {
				err = errors.New("no job or image id")
			}
		}
		return err
	})
	r.Op("RebuildImage", func() error {
		if err := require(job, domainID); err != nil {
			return err
		}
		// The path's {domain_id} is filled by the SDK from the discovered domain id.
		_, err := c.RebuildImage(&model.RebuildImageRequest{DomainId: domainID, JobId: job,
			Body: &model.RebuildImageRequestBody{Action: "retry"}})
		return err
	})
	r.Op("ListImages", func() error {
		resp, err := c.ListImages(&model.ListImagesRequest{Visibility: s("private")})
		if err == nil && (resp.Images == nil || len(*resp.Images) != 2) {
			err = errors.New("want two private images")
		}
		return err
	})
	for _, id := range []*string{&image, &registered} {
		id := id
		r.Op("DeleteImage", func() error {
			if err := require(*id); err != nil {
				return err
			}
			_, err := c.DeleteImage(&model.DeleteImageRequest{ImageId: *id})
			return err
		})
	}

	// Virtual IPs, EIPs and bandwidths.
	r.Op("CreatePort", func() error {
		if err := require(n.subnet); err != nil {
			return err
		}
		resp, err := c.CreatePort(&model.CreatePortRequest{Body: &model.CreatePortRequestBody{Port: &model.CreatePortOption{
			DeviceOwner: model.GetCreatePortOptionDeviceOwnerEnum().NEUTRONVIP_PORT, NetworkId: n.subnet}}})
		if err == nil {
			vip = str(resp.Port.Id)
			if resp.Port.FixedIps != nil && len(*resp.Port.FixedIps) == 1 {
				vipAddr = str((*resp.Port.FixedIps)[0].IpAddress)
			}
		}
		return err
	})
	r.Op("CreatePort", func() error {
		if err := require(n.subnet, n.subnetV6); err != nil {
			return err
		}
		resp, err := c.CreatePort(&model.CreatePortRequest{Body: &model.CreatePortRequestBody{Port: &model.CreatePortOption{
			DeviceOwner: model.GetCreatePortOptionDeviceOwnerEnum().NEUTRONVIP_PORT, NetworkId: n.subnet,
			FixedIps: &[]model.FixedIp{{SubnetId: s(n.subnetV6)}}}}})
		if err == nil {
			vip6 = str(resp.Port.Id)
		}
		return err
	})
	r.Op("ShowPort", func() error {
		if err := require(vip); err != nil {
			return err
		}
		resp, err := c.ShowPort(&model.ShowPortRequest{PortId: vip})
		if err == nil && str(resp.Port.DeviceOwner) != "neutron:VIP_PORT" {
			err = fmt.Errorf("device_owner %q", str(resp.Port.DeviceOwner))
		}
		return err
	})
	r.Op("ListPorts", func() error {
		resp, err := c.ListPorts(&model.ListPortsRequest{NetworkId: s(n.subnet)})
		if err == nil && (resp.Ports == nil || len(*resp.Ports) != 3) {
			err = fmt.Errorf("want the NIC and two virtual IPs, got %v", resp.Ports)
		}
		return err
	})
	r.Op("UpdatePort", func() error {
		if err := require(vip); err != nil {
			return err
		}
		resp, err := c.UpdatePort(&model.UpdatePortRequest{PortId: vip, Body: &model.UpdatePortRequestBody{
			Port: &model.UpdatePortOption{AllowedAddressPairs: &[]model.AllowedAddressPair{{IpAddress: "1.1.1.1/0"}}}}})
		if err == nil && (resp.Port.AllowedAddressPairs == nil || len(*resp.Port.AllowedAddressPairs) != 1) {
			err = errors.New("want one allowed address pair")
		}
		return err
	})
	r.Op("CreatePublicIp", func() error {
		resp, err := c.CreatePublicIp(&model.CreatePublicIpRequest{Body: &model.CreatePublicIpRequestBody{
			Publicip:  &model.CreatePublicIpOption{SiteId: siteZS},
			Bandwidth: &model.CreatePublicIpBandwidthOption{BandwidthType: s("share")}}})
		if err == nil {
			eip, bandwidth = str(resp.Publicip.Id), str(resp.Publicip.BandwidthId)
			if eip == "" || bandwidth == "" {
				err = errors.New("no EIP or bandwidth id")
			}
		}
		return err
	})
	r.Op("ShowPublicIp", func() error {
		if err := require(eip); err != nil {
			return err
		}
		for i := 0; i < 100; i++ {
			resp, err := c.ShowPublicIp(&model.ShowPublicIpRequest{PublicipId: eip})
			if err != nil {
				return err
			}
			if str(resp.Publicip.Status) == "DOWN" {
				return nil
			}
			time.Sleep(50 * time.Millisecond)
		}
		return errors.New("the EIP never left PENDING_CREATE")
	})
	r.Op("UpdatePublicIp", func() error {
		if err := require(eip, vip); err != nil {
			return err
		}
		resp, err := c.UpdatePublicIp(&model.UpdatePublicIpRequest{PublicipId: eip, Body: &model.UpdatePublicIpRequestBody{
			Publicip: &model.UpdatePublicIpOption{PortId: vip}}})
		if err == nil && str(resp.Publicip.PortId) != vip {
			err = fmt.Errorf("bound to %q", str(resp.Publicip.PortId))
		}
		return err
	})
	r.Op("ListPublicIps", func() error {
		resp, err := c.ListPublicIps(&model.ListPublicIpsRequest{})
		if err == nil && (resp.Publicips == nil || len(*resp.Publicips) != 1) {
			err = errors.New("want one EIP")
		}
		return err
	})
	r.Op("ListBandwidths", func() error {
		resp, err := c.ListBandwidths(&model.ListBandwidthsRequest{})
		if err == nil && (resp.Bandwidths == nil || len(*resp.Bandwidths) != 1) {
			err = errors.New("want one bandwidth")
		}
		return err
	})
	r.Op("ShowBandwidth", func() error {
		if err := require(bandwidth); err != nil {
			return err
		}
		_, err := c.ShowBandwidth(&model.ShowBandwidthRequest{BandwidthId: bandwidth})
		return err
	})
	r.Op("UpdateBandwidth", func() error {
		if err := require(bandwidth); err != nil {
			return err
		}
		resp, err := c.UpdateBandwidth(&model.UpdateBandwidthRequest{BandwidthId: bandwidth, Body: &model.UpdateBandwidthRequestBody{
			Bandwidth: &model.UpdateBandwidthOption{Size: i32(500)}}})
		if err == nil && (resp.Bandwidth.Size == nil || *resp.Bandwidth.Size != 500) {
			err = errors.New("size not 500")
		}
		return err
	})
	r.Op("AttachVipBandwidth", func() error {
		if err := require(vip6, bandwidth); err != nil {
			return err
		}
		resp, err := c.AttachVipBandwidth(&model.AttachVipBandwidthRequest{VportId: vip6,
			Body: &model.AttachVipBandwidthRequestBody{BandwidthId: bandwidth}})
		if err == nil && str(resp.Vport.Ipv6BandwidthId) != bandwidth {
			err = fmt.Errorf("ipv6_bandwidth_id %q", str(resp.Vport.Ipv6BandwidthId))
		}
		return err
	})
	r.Op("DetachVipBandwidth", func() error {
		if err := require(vip6); err != nil {
			return err
		}
		_, err := c.DetachVipBandwidth(&model.DetachVipBandwidthRequest{VportId: vip6})
		return err
	})

	// Network ACLs.
	r.Op("CreateFirewall", func() error {
		resp, err := c.CreateFirewall(&model.CreateFirewallRequest{Body: &model.CreateFirewallRequestBody{
			Firewall: &model.CreateFirewallOption{Name: "sdk-acl", Description: s("contract suite")}}})
		if err == nil {
			fw = str(resp.Firewall.Id)
		}
		return err
	})
	var ingress string
	r.Op("ShowFirewall", func() error {
		if err := require(fw); err != nil {
			return err
		}
		resp, err := c.ShowFirewall(&model.ShowFirewallRequest{FirewallId: fw})
		if err == nil {
			if resp.Firewall.IngressFirewallPolicy == nil {
				return errors.New("no ingress policy")
			}
			ingress = resp.Firewall.IngressFirewallPolicy.Id
		}
		return err
	})
	r.Op("ListFirewalls", func() error {
		resp, err := c.ListFirewalls(&model.ListFirewallsRequest{})
		if err == nil && (resp.Firewalls == nil || len(*resp.Firewalls) != 1) {
			err = errors.New("want one ACL")
		}
		return err
	})
	r.Op("UpdateFirewall", func() error {
		if err := require(fw, n.subnet); err != nil {
			return err
		}
		_, err := c.UpdateFirewall(&model.UpdateFirewallRequest{FirewallId: fw, Body: &model.UpdateFirewallRequestBody{
			Firewall: &model.UpdateFirewallOption{Name: "sdk-acl", Subnets: &[]model.FirewallSubnetOption{{Id: n.subnet}}}}})
		return err
	})
	r.Op("UpdateFirewallRule", func() error {
		if err := require(fw, ingress); err != nil {
			return err
		}
		rule := model.FirewallRule{Action: model.GetFirewallRuleActionEnum().ALLOW, Enabled: true, IpVersion: 4,
			Name: "http", OperateType: model.GetFirewallRuleOperateTypeEnum().ADD,
			Protocol: model.GetFirewallRuleProtocolEnum().TCP, DestinationPort: "80",
			SourceIpAddress: "10.0.0.0/8", DestinationIpAddress: "192.168.1.0/24"}
		resp, err := c.UpdateFirewallRule(&model.UpdateFirewallRuleRequest{FirewallId: fw,
			Body: &model.UpdateFirewallRuleRequestBody{Firewall: &model.UpdateFirewallRuleOption{
				IngressFirewallPolicy: &model.FirewallPolicy{Id: ingress, FirewallRules: []model.FirewallRule{rule}}}}})
		if err == nil && resp.Firewall == nil {
			err = errors.New("no firewall in the answer")
		}
		return err
	})

	// Route tables.
	r.Op("CreateRoutetable", func() error {
		if err := require(n.vpc); err != nil {
			return err
		}
		resp, err := c.CreateRoutetable(&model.CreateRoutetableRequest{Body: &model.CreateRoutetableRequestBody{
			Routetable: &model.CreateRoutetableOption{Name: "sdk-rtb", VpcId: n.vpc}}})
		if err == nil {
			rtb = str(resp.Routetable.Id)
		}
		return err
	})
	r.Op("ShowRoutetable", func() error {
		if err := require(rtb); err != nil {
			return err
		}
		_, err := c.ShowRoutetable(&model.ShowRoutetableRequest{RoutetableId: rtb})
		return err
	})
	r.Op("ListRoutetables", func() error {
		resp, err := c.ListRoutetables(&model.ListRoutetablesRequest{VpcId: s(n.vpc)})
		if err == nil && (resp.Routetables == nil || len(*resp.Routetables) != 2) {
			err = errors.New("want the default and the custom table")
		}
		return err
	})
	r.Op("UpdateRoutetable", func() error {
		if err := require(rtb); err != nil {
			return err
		}
		resp, err := c.UpdateRoutetable(&model.UpdateRoutetableRequest{RoutetableId: rtb, Body: &model.UpdateRoutetableRequesBody{
			Routetable: &model.UpdateRoutetableOption{Description: s("contract suite")}}})
		if err == nil && str(resp.Routetable.Description) != "contract suite" {
			err = fmt.Errorf("description %q", str(resp.Routetable.Description))
		}
		return err
	})
	r.Op("AssociateSubnet", func() error {
		if err := require(rtb, n.subnet); err != nil {
			return err
		}
		_, err := c.AssociateSubnet(&model.AssociateSubnetRequest{RoutetableId: rtb,
			Body: &model.AssociateSubnetRequestBody{SubnetIds: []string{n.subnet}}})
		return err
	})
	r.Op("ListRelatedRoutetables", func() error {
		if err := require(n.subnet); err != nil {
			return err
		}
		resp, err := c.ListRelatedRoutetables(&model.ListRelatedRoutetablesRequest{SubnetId: n.subnet})
		if err == nil && str(resp.Routetable.Id) != rtb {
			err = fmt.Errorf("subnet is in table %q", str(resp.Routetable.Id))
		}
		return err
	})
	route := func(desc string) []model.RouteOption {
		return []model.RouteOption{{Type: model.GetRouteOptionTypeEnum().VIP, Destination: "10.10.0.0/16",
			Nexthop: vipAddr, Description: s(desc)}}
	}
	r.Op("CreateRoutes", func() error {
		if err := require(rtb, vipAddr); err != nil {
			return err
		}
		_, err := c.CreateRoutes(&model.CreateRoutesRequest{RoutetableId: rtb,
			Body: &model.CreateRoutesRequestBody{Routes: route("via the VIP")}})
		return err
	})
	r.Op("UpdateRoutes", func() error {
		if err := require(rtb, vipAddr); err != nil {
			return err
		}
		_, err := c.UpdateRoutes(&model.UpdateRoutesRequest{RoutetableId: rtb,
			Body: &model.UpdateRoutesRequestBody{Routes: route("still via the VIP")}})
		return err
	})
	r.Op("ListRoutes", func() error {
		if err := require(rtb); err != nil {
			return err
		}
		resp, err := c.ListRoutes(&model.ListRoutesRequest{RoutetableId: rtb})
		if err == nil {
			found := false
			for _, rt := range *resp.Routes {
				found = found || (str(rt.Destination) == "10.10.0.0/16" && str(rt.Description) == "still via the VIP")
			}
			if !found {
				err = errors.New("the updated custom route is not listed")
			}
		}
		return err
	})
	r.Op("DeleteRoutes", func() error {
		if err := require(rtb); err != nil {
			return err
		}
		_, err := c.DeleteRoutes(&model.DeleteRoutesRequest{RoutetableId: rtb,
			Body: &model.DeleteRoutesRequestBody{Routes: []model.DeleteRouteOption{{Destination: "10.10.0.0/16"}}}})
		return err
	})
	r.Op("DisassociateSubnet", func() error {
		if err := require(rtb, n.subnet); err != nil {
			return err
		}
		_, err := c.DisassociateSubnet(&model.DisassociateSubnetRequest{RoutetableId: rtb,
			Body: &model.DisassociateSubnetRequestBody{SubnetIds: []string{n.subnet}}})
		return err
	})
	r.Op("DeleteRoutetable", func() error {
		if err := require(rtb); err != nil {
			return err
		}
		_, err := c.DeleteRoutetable(&model.DeleteRoutetableRequest{RoutetableId: rtb})
		return err
	})

	// Monitoring data of the instance.
	r.Op("BatchListMetricData", func() error {
		if err := require(server); err != nil {
			return err
		}
		now := time.Now().UnixMilli()
		resp, err := c.BatchListMetricData(&model.BatchListMetricDataRequest{Body: &model.BatchListMetricDataRequestBody{
			Metrics: []model.MetricInfo{{Namespace: s("SYS.IEC"), MetricName: s("cpu_util"),
				Dimensions: &[]model.MetricsDimension{{Name: s("instance_id"), Value: s(server)}}}},
			Period: "1", Filter: "average", From: now - 3600_000, To: now + 60_000}})
		if err != nil {
			return err
		}
		if resp.Body == nil || len(*resp.Body) != 1 {
			return errors.New("want one metric")
		}
		m := (*resp.Body)[0]
		if m.MetricName != "cpu_util" || len(m.Datapoints) == 0 || m.Datapoints[0].Average == nil {
			return fmt.Errorf("metric %s with %d datapoints", m.MetricName, len(m.Datapoints))
		}
		return nil
	})

	// Tear down what this part created (the ACL first: a subnet in an ACL cannot be deleted).
	r.Op("UpdateFirewall", func() error {
		if err := require(fw); err != nil {
			return err
		}
		_, err := c.UpdateFirewall(&model.UpdateFirewallRequest{FirewallId: fw, Body: &model.UpdateFirewallRequestBody{
			Firewall: &model.UpdateFirewallOption{Name: "sdk-acl", Subnets: &[]model.FirewallSubnetOption{}}}})
		return err
	})
	r.Op("DeleteFirewall", func() error {
		if err := require(fw); err != nil {
			return err
		}
		_, err := c.DeleteFirewall(&model.DeleteFirewallRequest{FirewallId: fw})
		return err
	})
	for _, id := range []*string{&vip, &vip6} {
		id := id
		r.Op("DeletePort", func() error {
			if err := require(*id); err != nil {
				return err
			}
			_, err := c.DeletePort(&model.DeletePortRequest{PortId: *id})
			return err
		})
	}
	r.Op("DeletePublicIp", func() error {
		if err := require(eip); err != nil {
			return err
		}
		_, err := c.DeletePublicIp(&model.DeletePublicIpRequest{PublicipId: eip})
		return err
	})
	r.Op("DeleteBandwidth", func() error {
		if err := require(bandwidth); err != nil {
			return err
		}
		_, err := c.DeleteBandwidth(&model.DeleteBandwidthRequest{BandwidthId: bandwidth})
		return err
	})
	r.Op("DeleteInstances", func() error {
		if err := require(server); err != nil {
			return err
		}
		_, err := c.DeleteInstances(&model.DeleteInstancesRequest{Body: &model.DeleteInstancesRequestBody{
			Servers: []model.BaseId{{Id: server}}}})
		if err == nil {
			err = waitGone(c, server)
		}
		return err
	})
	r.Op("DeleteKeypair", func() error {
		_, err := c.DeleteKeypair(&model.DeleteKeypairRequest{KeypairName: "sdk-key"})
		return err
	})
}

// edgeClouds runs a plan through deploy, expansion and deletion on a SYSTEM VPC.
func edgeClouds(c *iec.IecClient, r *Recorder) {
	var sys, plan, spare, expansion, cloud string
	r.Op("CreateVpc", func() error {
		resp, err := c.CreateVpc(&model.CreateVpcRequest{Body: &model.CreateVpcRequestBody{
			Vpc: &model.CreateVpcOption{Name: "sdk-sys", Cidr: "192.168.0.0/16", Mode: "SYSTEM"}}})
		if err == nil {
			sys = str(resp.Vpc.Id)
		}
		return err
	})
	option := func(name, id *string) *model.EdgeCloudOption {
		return &model.EdgeCloudOption{Name: name, Id: id,
			Stack: &model.Stack{Name: "stack-sdk", Resources: []model.Resource{{Name: "web", ImageRef: imageCentOS,
				FlavorRef: flavor, AdminPass: s("NOVAGLANCEI@123"), Count: i32(1),
				NetConfig:  &model.NetConfig{VpcId: sys, NicNum: 1},
				RootVolume: &model.RootVolume{Size: 40, VolumeType: "SATA"}}}},
			Coverage: &model.Coverage{CoveragePolicy: "centralize", CoverageLevel: "city",
				CoverageSites: []model.CoverageSite{{Site: "xi'an", Demands: []model.Demand{{DemandCount: 1}}}}}}
	}
	create := func(opt *model.EdgeCloudOption, out *string) func() error {
		return func() error {
			if err := require(sys); err != nil {
				return err
			}
			resp, err := c.CreateDeployment(&model.CreateDeploymentRequest{Body: &model.CreateDeploymentRequestBody{Edgecloud: opt}})
			if err == nil {
				*out = str(resp.Id)
				if resp.Locations == nil || len(*resp.Locations) != 1 {
					err = errors.New("want one scheduled location")
				}
			}
			return err
		}
	}
	r.Op("CreateDeployment", create(option(s("sdk-ec"), nil), &plan))
	r.Op("CreateDeployment", create(option(s("sdk-spare"), nil), &spare))
	r.Op("ListDeployments", func() error {
		resp, err := c.ListDeployments(&model.ListDeploymentsRequest{Status: s("open")})
		if err == nil && (resp.Deployments == nil || len(*resp.Deployments) != 2) {
			err = errors.New("want two open plans")
		}
		return err
	})
	r.Op("DeleteDeployment", func() error {
		if err := require(spare); err != nil {
			return err
		}
		_, err := c.DeleteDeployment(&model.DeleteDeploymentRequest{DeploymentId: spare})
		return err
	})
	r.Op("ExecuteDeployment", func() error {
		if err := require(plan); err != nil {
			return err
		}
		resp, err := c.ExecuteDeployment(&model.ExecuteDeploymentRequest{DeploymentId: plan})
		if err == nil {
			cloud = str(resp.Id)
			if str(resp.JobId) == "" || cloud == "" {
				return errors.New("no job or edge cloud id")
			}
		}
		return err
	})
	r.Op("ShowEdgeCloud", func() error {
		if err := require(cloud); err != nil {
			return err
		}
		return waitEdgeCloud(c, cloud, "inService")
	})
	r.Op("ListEdgeCloud", func() error {
		resp, err := c.ListEdgeCloud(&model.ListEdgeCloudRequest{})
		if err == nil && (resp.Edgeclouds == nil || len(*resp.Edgeclouds) != 1) {
			err = errors.New("want one edge cloud")
		}
		return err
	})
	r.Op("CreateDeployment", func() error {
		if err := require(cloud); err != nil {
			return err
		}
		return create(option(nil, s(cloud)), &expansion)()
	})
	r.Op("ExpandEdgecloud", func() error {
		if err := require(expansion); err != nil {
			return err
		}
		resp, err := c.ExpandEdgecloud(&model.ExpandEdgecloudRequest{DeploymentId: expansion})
		if err == nil && str(resp.Id) != cloud {
			return fmt.Errorf("expanded %q", str(resp.Id))
		}
		if err == nil {
			err = waitEdgeCloud(c, cloud, "inService")
		}
		return err
	})
	r.Op("DeleteInstances", func() error {
		if err := require(cloud); err != nil {
			return err
		}
		resp, err := c.ListInstances(&model.ListInstancesRequest{EdgecloudId: s(cloud)})
		if err != nil {
			return err
		}
		var members []model.BaseId
		for _, i := range *resp.Servers {
			members = append(members, model.BaseId{Id: str(i.Id)})
		}
		if len(members) != 2 {
			return fmt.Errorf("want two members after the expansion, got %d", len(members))
		}
		if _, err := c.DeleteInstances(&model.DeleteInstancesRequest{Body: &model.DeleteInstancesRequestBody{Servers: members}}); err != nil {
			return err
		}
		for _, m := range members {
			if err := waitGone(c, m.Id); err != nil {
				return err
			}
		}
		return nil
	})
	r.Op("DeleteEdgeCloud", func() error {
		if err := require(cloud); err != nil {
			return err
		}
		_, err := c.DeleteEdgeCloud(&model.DeleteEdgeCloudRequest{EdgecloudId: cloud})
		if err != nil {
			return err
		}
		for i := 0; i < 100; i++ {
			_, err = c.ShowEdgeCloud(&model.ShowEdgeCloudRequest{EdgecloudId: cloud})
			if ExpectServiceError(err, 404, "IEC.010000") == nil {
				return nil
			}
			time.Sleep(50 * time.Millisecond)
		}
		return fmt.Errorf("the edge cloud is still there (%v)", err)
	})
	r.Op("DeleteVpc", func() error {
		if err := require(sys); err != nil {
			return err
		}
		_, err := c.DeleteVpc(&model.DeleteVpcRequest{VpcId: sys})
		return err
	})
}

func teardown(c *iec.IecClient, r *Recorder, n net) {
	r.Op("DeleteSecurityGroupRule", func() error {
		if err := require(n.rule); err != nil {
			return err
		}
		_, err := c.DeleteSecurityGroupRule(&model.DeleteSecurityGroupRuleRequest{SecurityGroupRuleId: n.rule})
		return err
	})
	r.Op("DeleteSecurityGroup", func() error {
		if err := require(n.sg); err != nil {
			return err
		}
		_, err := c.DeleteSecurityGroup(&model.DeleteSecurityGroupRequest{SecurityGroupId: n.sg})
		return err
	})
	r.Op("DeleteSubnet", func() error {
		if err := require(n.subnet); err != nil {
			return err
		}
		_, err := c.DeleteSubnet(&model.DeleteSubnetRequest{SubnetId: n.subnet})
		return err
	})
	r.Op("DeleteVpc", func() error {
		if err := require(n.vpc); err != nil {
			return err
		}
		_, err := c.DeleteVpc(&model.DeleteVpcRequest{VpcId: n.vpc})
		return err
	})
	r.Op("ListVpcs", func() error {
		resp, err := c.ListVpcs(&model.ListVpcsRequest{})
		if err == nil && resp.Vpcs != nil && len(*resp.Vpcs) != 0 {
			err = fmt.Errorf("%d VPCs left after the teardown", len(*resp.Vpcs))
		}
		return err
	})
}

// notFound checks that unknown resources come back as the SDK's error type with IEC's codes.
func notFound(c *iec.IecClient, r *Recorder) {
	cases := []struct {
		name   string
		status int
		code   string
		call   func() error
	}{
		{"ShowVpc", 404, "IEC.020104", func() error {
			_, err := c.ShowVpc(&model.ShowVpcRequest{VpcId: missingID})
			return err
		}},
		{"ShowSubnet", 404, "IEC.020003", func() error {
			_, err := c.ShowSubnet(&model.ShowSubnetRequest{SubnetId: missingID})
			return err
		}},
		{"ShowInstance", 404, "IEC.010200", func() error {
			_, err := c.ShowInstance(&model.ShowInstanceRequest{ServerId: missingID})
			return err
		}},
		{"ShowEdgeCloud", 404, "IEC.010000", func() error {
			_, err := c.ShowEdgeCloud(&model.ShowEdgeCloudRequest{EdgecloudId: missingID})
			return err
		}},
		{"ShowSecurityGroup", 404, "IEC.020204", func() error {
			_, err := c.ShowSecurityGroup(&model.ShowSecurityGroupRequest{SecurityGroupId: missingID})
			return err
		}},
		{"ShowPort", 404, "IEC.020607", func() error {
			_, err := c.ShowPort(&model.ShowPortRequest{PortId: missingID})
			return err
		}},
		{"ShowPublicIp", 404, "IEC.020706", func() error {
			_, err := c.ShowPublicIp(&model.ShowPublicIpRequest{PublicipId: missingID})
			return err
		}},
		{"ShowImage", 404, "IEC.030201", func() error {
			_, err := c.ShowImage(&model.ShowImageRequest{ImageId: missingID})
			return err
		}},
	}
	for _, tc := range cases {
		tc := tc
		r.Check(fmt.Sprintf("not found: %s of an unknown id is %d %s", tc.name, tc.status, tc.code), func() error {
			return ExpectServiceError(tc.call(), tc.status, tc.code)
		})
	}
}

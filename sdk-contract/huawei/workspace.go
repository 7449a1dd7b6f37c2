// The Workspace suite: services/workspaceapp/v1 (WorkspaceApp, "appstream") against the emulator's
// workspace listener (Env.Listeners["workspace"]). The SDK client has ~170 operations (app groups,
// policies, storage, images, ...); the suite's Scope is the server-group, scaling-policy, app-server,
// job and catalog operations the emulator emulates. Scenario: project discovery through IAM on the same listener,
// group create/list/show/update/state/tags, create servers → poll the v2 job → list/show/update
// servers, power actions, batch delete → poll, DELETE of a server → job, group delete, and the auth
// and error contracts (bad signature, unknown group, delete refused while servers remain).
package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/basic"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/region"
	workspaceapp "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/workspaceapp/v1"
	wsm "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/workspaceapp/v1/model"
)

func init() {
	register(Suite{
		Cloud:   "Huawei Cloud",
		Service: "workspace",
		Package: "huaweicloud-sdk-go-v3 services/workspaceapp/v1",
		Client:  (*workspaceapp.WorkspaceAppClient)(nil),
		Scope: []string{
			"CreateServerGroup", "ListServerGroups", "ShowServerGroup", "UpdateServerGroup",
			"DeleteServerGroups", "ShowServerGroupState", "BatchCreateServerGroupTags",
			"BatchDeleteServerGroupTags", "CreateServerGroupTags", "DeleteServerGroupTags",
			"ListServerGroupTag", "ShowServerGroupTag",
			"CreateAppServers", "ListServers", "ShowServer", "UpdateServer", "DeleteServer",
			"BatchDeleteServer", "BatchStartServer", "BatchStopServer", "BatchRebootServer",
			"ShowJobDetail", "ShowJob", "ListSubJobs", "CountSubJobs",
			"ListProduct", "ListVolumeType", "CheckQuota",
			"CreateOrUpdateScalingPolicy", "ShowScalingPolicy", "DeleteScalingPolicy",
		},
		Run: runWorkspace,
	})
}

// The emulator's built-in Workspace catalog (docs/emulator.md § Workspace).
const (
	wsVPC     = "59785ba5-e5d5-4836-b9de-19f22ac15175"
	wsSubnet  = "a5842cb4-5718-4b0a-8b27-3a3e9c74f977"
	wsImage   = "0fd6c925-6349-49d6-8788-48263b129854"
	wsProduct = "workspace.appstream.general.xlarge.2"
	// wsProject is the cn-north-4 project of the built-in account (derived from its domain id).
	wsProject = "a621413c6050551bbd5222c5ab6f8b91"
)

// newWorkspace builds a WorkspaceApp client the way a user would: basic credentials without a project
// id (the SDK finds it through GET /v3/projects?name=<region> on the IAM endpoint, here the emulator's
// workspace listener) and the region's endpoint pointed at that listener.
// A non-empty projectID skips the discovery.
func newWorkspace(url, ak, sk, projectID string) (*workspaceapp.WorkspaceAppClient, error) {
	cb := basic.NewCredentialsBuilder().WithAk(ak).WithSk(sk).WithIamEndpointOverride(url)
	if projectID != "" {
		cb = cb.WithProjectId(projectID)
	}
	cred, err := cb.SafeBuild()
	if err != nil {
		return nil, err
	}
	client, err := workspaceapp.WorkspaceAppClientBuilder().
		WithRegion(region.NewRegion(regionID, url)).
		WithCredential(cred).
		WithHttpConfig(httpConfig()).
		SafeBuild()
	if err != nil {
		return nil, err
	}
	return workspaceapp.NewWorkspaceAppClient(client), nil
}

// waitJob polls ShowJobDetail until the job is SUCCESS or FAILED (with --zero-delays a job moves on
// the next request).
func waitJob(c *workspaceapp.WorkspaceAppClient, id string) (*wsm.ShowJobDetailResponse, error) {
	for i := 0; i < 100; i++ {
		resp, err := c.ShowJobDetail(&wsm.ShowJobDetailRequest{JobId: id})
		if err != nil {
			return nil, err
		}
		if resp.Status != nil {
			switch resp.Status.Value() {
			case "SUCCESS":
				return resp, nil
			case "FAILED":
				return resp, fmt.Errorf("job %s FAILED", id)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil, fmt.Errorf("job %s did not finish", id)
}

// waitVM polls ShowServer until vm_status is want.
func waitVM(c *workspaceapp.WorkspaceAppClient, id, want string) error {
	last := ""
	for i := 0; i < 100; i++ {
		resp, err := c.ShowServer(&wsm.ShowServerRequest{ServerId: id})
		if err != nil {
			return err
		}
		if resp.VmStatus != nil {
			last = resp.VmStatus.Value()
		}
		if last == want {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("server %s is %s, want %s", id, last, want)
}

func runWorkspace(env Env, r *Recorder) {
	url := env.Listeners["workspace"]
	if url == "" {
		r.Check("workspace listener", func() error { return errors.New("no -listener workspace=URL given") })
		return
	}
	var c *workspaceapp.WorkspaceAppClient
	r.Check("client via IAM project discovery (GET /v3/projects?name=)", func() error {
		var err error
		c, err = newWorkspace(url, env.AK, env.SK, "")
		return err
	})
	if c == nil {
		return
	}
	r.Check("bad signature is 401 APIGW.0301", func() error {
		bad, err := newWorkspace(url, env.AK, "not-the-secret-key", wsProject)
		if err != nil {
			return err
		}
		_, err = bad.ListServerGroups(&wsm.ListServerGroupsRequest{})
		return ExpectServiceError(err, 401, "APIGW.0301")
	})

	// Catalog.
	r.Op("ListProduct", func() error {
		resp, err := c.ListProduct(&wsm.ListProductRequest{ProductId: s(wsProduct)})
		if err == nil && (resp.Products == nil || len(*resp.Products) != 1) {
			err = fmt.Errorf("want 1 product, got %v", resp.Products)
		}
		return err
	})
	r.Op("ListVolumeType", func() error {
		resp, err := c.ListVolumeType(&wsm.ListVolumeTypeRequest{})
		if err == nil && (resp.VolumeTypes == nil || len(*resp.VolumeTypes) == 0) {
			err = errors.New("no volume types")
		}
		return err
	})
	r.Op("CheckQuota", func() error {
		resp, err := c.CheckQuota(&wsm.CheckQuotaRequest{ProductId: wsProduct, SubscriptionNum: 2, DiskSize: 80, DiskNum: 1})
		if err == nil && (resp.IsEnough == nil || !*resp.IsEnough) {
			err = errors.New("quota is not enough for 2 servers")
		}
		return err
	})

	// Server group.
	imageType := wsm.GetImageTypeEnumEnum().PRIVATE
	osType := wsm.GetOsTypeEnumEnum().WINDOWS
	disk := wsm.GetVolumeTypeEnum().SAS
	var groupID string
	r.Op("CreateServerGroup", func() error {
		resp, err := c.CreateServerGroup(&wsm.CreateServerGroupRequest{Body: &wsm.CreateServerGroupReq{
			Name: "sdk-contract", ImageId: wsImage, ImageType: &imageType, OsType: &osType,
			ProductId: wsProduct, VpcId: wsVPC, SubnetId: wsSubnet, SystemDiskType: &disk, SystemDiskSize: 80,
			Tags: &[]wsm.TmsTag{{Key: "owner", Value: s("edgefleet")}},
		}})
		if err == nil {
			groupID = str(resp.Id)
			if groupID == "" || str(resp.Name) != "sdk-contract" {
				err = fmt.Errorf("unexpected group %+v", resp)
			}
		}
		return err
	})
	r.Check("unknown server group is 404 WKS.00000404", func() error {
		_, err := c.ShowServerGroup(&wsm.ShowServerGroupRequest{ServerGroupId: missingID})
		return ExpectServiceError(err, 404, "WKS.00000404")
	})
	r.Op("ListServerGroups", func() error {
		if err := require(groupID); err != nil {
			return err
		}
		resp, err := c.ListServerGroups(&wsm.ListServerGroupsRequest{ServerGroupName: s("sdk-contract"), Limit: i32(10)})
		if err == nil && (resp.Count == nil || *resp.Count != 1 || resp.Items == nil || str((*resp.Items)[0].Id) != groupID) {
			err = fmt.Errorf("the list by name does not return the group: %+v", resp)
		}
		return err
	})
	r.Op("UpdateServerGroup", func() error {
		if err := require(groupID); err != nil {
			return err
		}
		_, err := c.UpdateServerGroup(&wsm.UpdateServerGroupRequest{ServerGroupId: groupID,
			Body: &wsm.UpdateServerGroupReq{Description: s("updated by the SDK")}})
		return err
	})
	r.Op("ShowServerGroup", func() error {
		if err := require(groupID); err != nil {
			return err
		}
		resp, err := c.ShowServerGroup(&wsm.ShowServerGroupRequest{ServerGroupId: groupID})
		if err == nil && str(resp.Description) != "updated by the SDK" {
			err = fmt.Errorf("description is %q", str(resp.Description))
		}
		return err
	})
	tags := []wsm.TmsTag{{Key: "tier", Value: s("1")}}
	r.Op("BatchCreateServerGroupTags", func() error {
		_, err := c.BatchCreateServerGroupTags(&wsm.BatchCreateServerGroupTagsRequest{Body: &wsm.BatchCreateServerGroupTagsReq{
			Items: []wsm.ServerGroupTagsInfo{{ServerGroupId: s(groupID), Tags: &tags}}}})
		return err
	})
	r.Op("CreateServerGroupTags", func() error {
		_, err := c.CreateServerGroupTags(&wsm.CreateServerGroupTagsRequest{ServerGroupId: groupID,
			Body: &wsm.CreateResourceTagReq{Tags: &[]wsm.TmsTag{{Key: "zone", Value: s("a")}}}})
		return err
	})
	r.Op("ShowServerGroupTag", func() error {
		resp, err := c.ShowServerGroupTag(&wsm.ShowServerGroupTagRequest{ServerGroupId: groupID})
		if err == nil && (resp.Tags == nil || len(*resp.Tags) != 3) {
			err = fmt.Errorf("want 3 tags, got %v", resp.Tags)
		}
		return err
	})
	r.Op("ListServerGroupTag", func() error {
		resp, err := c.ListServerGroupTag(&wsm.ListServerGroupTagRequest{})
		if err == nil && (resp.Tags == nil || len(*resp.Tags) != 3) {
			err = fmt.Errorf("want 3 tag keys, got %v", resp.Tags)
		}
		return err
	})
	r.Op("DeleteServerGroupTags", func() error {
		_, err := c.DeleteServerGroupTags(&wsm.DeleteServerGroupTagsRequest{ServerGroupId: groupID,
			Body: &wsm.DeleteResourceTagReq{Tags: &[]wsm.TmsTag{{Key: "zone"}}}})
		return err
	})
	r.Op("CreateOrUpdateScalingPolicy", func() error {
		_, err := c.CreateOrUpdateScalingPolicy(&wsm.CreateOrUpdateScalingPolicyRequest{Body: &wsm.CreateOrUpdateScalingPolicyReq{
			ServerGroupId: groupID, Enable: b(true), MaxScalingAmount: 4, SingleExpansionCount: 2,
			ScalingPolicyBySession: &wsm.ScalingPolicyBySession{SessionUsageThreshold: i32(80), ShrinkAfterSessionIdleMinutes: 30},
		}})
		return err
	})
	r.Op("ShowScalingPolicy", func() error {
		resp, err := c.ShowScalingPolicy(&wsm.ShowScalingPolicyRequest{ServerGroupId: groupID})
		if err == nil && (resp.MaxScalingAmount == nil || *resp.MaxScalingAmount != 4) {
			err = fmt.Errorf("max_scaling_amount is %v", resp.MaxScalingAmount)
		}
		return err
	})
	r.Op("DeleteScalingPolicy", func() error {
		_, err := c.DeleteScalingPolicy(&wsm.DeleteScalingPolicyRequest{ServerGroupId: groupID})
		return err
	})
	r.Op("BatchDeleteServerGroupTags", func() error {
		_, err := c.BatchDeleteServerGroupTags(&wsm.BatchDeleteServerGroupTagsRequest{Body: &wsm.BatchDeleteServerGroupTagsReq{
			Items: []wsm.ServerGroupTagsInfo{{ServerGroupId: s(groupID), Tags: &tags}}}})
		return err
	})

	// Servers through a create job.
	var createJob string
	r.Op("CreateAppServers", func() error {
		if err := require(groupID); err != nil {
			return err
		}
		resp, err := c.CreateAppServers(&wsm.CreateAppServersRequest{Body: &wsm.CreateAppServerReq{
			Type: "createApps", ServerGroupId: groupID, SubscriptionNum: 2, ProductId: wsProduct,
			RootVolume: &wsm.Volume{Type: &disk, Size: 80}, VpcId: wsVPC, SubnetId: wsSubnet,
		}})
		if err == nil {
			createJob = str(resp.JobId)
			if createJob == "" {
				err = errors.New("no job_id")
			}
		}
		return err
	})
	var servers []string
	r.Op("ShowJobDetail", func() error {
		if err := require(createJob); err != nil {
			return err
		}
		job, err := waitJob(c, createJob)
		if err != nil {
			return err
		}
		for _, sub := range *job.SubJobs {
			servers = append(servers, str(sub.JobResourceInfo.ResourceId))
		}
		if len(servers) != 2 || job.JobType == nil || job.JobType.Value() != "CREATE_SERVER" {
			return fmt.Errorf("unexpected job %+v", job)
		}
		return nil
	})
	r.Op("ShowJob", func() error {
		resp, err := c.ShowJob(&wsm.ShowJobRequest{JobId: createJob})
		if err == nil && (resp.Job == nil || resp.Job.JobStatus == nil || *resp.Job.JobStatus != 1) {
			err = fmt.Errorf("v1 job is not successful: %+v", resp.Job)
		}
		return err
	})
	r.Op("ListSubJobs", func() error {
		resp, err := c.ListSubJobs(&wsm.ListSubJobsRequest{JobType: "CREATE_SERVER", JobId: s(createJob)})
		if err == nil && (resp.Count == nil || *resp.Count != 2) {
			err = fmt.Errorf("want 2 sub-jobs, got %v", resp.Count)
		}
		return err
	})
	r.Op("CountSubJobs", func() error {
		resp, err := c.CountSubJobs(&wsm.CountSubJobsRequest{JobId: s(createJob), Status: s("SUCCESS")})
		if err == nil && (resp.Count == nil || *resp.Count != 2) {
			err = fmt.Errorf("want 2 successful sub-jobs, got %v", resp.Count)
		}
		return err
	})
	r.Op("ListServers", func() error {
		resp, err := c.ListServers(&wsm.ListServersRequest{ServerGroupId: s(groupID), Limit: i32(100)})
		if err == nil && (resp.Count == nil || *resp.Count != 2) {
			err = fmt.Errorf("want 2 servers, got %v", resp.Count)
		}
		return err
	})
	r.Op("ShowServerGroupState", func() error {
		resp, err := c.ShowServerGroupState(&wsm.ShowServerGroupStateRequest{ServerGroupId: groupID})
		if err == nil && resp.ApsStatus["UNREGISTER"]+resp.ApsStatus["REGISTERED"] != 2 {
			err = fmt.Errorf("state is %v", resp.ApsStatus)
		}
		return err
	})
	r.Check("group delete with servers is 409 WKS.00211103", func() error {
		_, err := c.DeleteServerGroups(&wsm.DeleteServerGroupsRequest{ServerGroupId: groupID})
		return ExpectServiceError(err, 409, "WKS.00211103")
	})
	first := func() string {
		if len(servers) > 0 {
			return servers[0]
		}
		return ""
	}
	r.Op("ShowServer", func() error {
		if err := require(first()); err != nil {
			return err
		}
		resp, err := c.ShowServer(&wsm.ShowServerRequest{ServerId: first()})
		if err == nil && str(resp.ServerGroupId) != groupID {
			err = fmt.Errorf("server group is %q", str(resp.ServerGroupId))
		}
		return err
	})
	r.Op("UpdateServer", func() error {
		if err := require(first()); err != nil {
			return err
		}
		_, err := c.UpdateServer(&wsm.UpdateServerRequest{ServerId: first(), Body: &wsm.UpdateServerReq{Description: s("sdk")}})
		return err
	})
	soft := wsm.GetServerHaltTypeEnum().SOFT
	r.Op("BatchStopServer", func() error {
		if err := require(first()); err != nil {
			return err
		}
		if _, err := c.BatchStopServer(&wsm.BatchStopServerRequest{Body: &wsm.ServerHaltReq{Items: []string{first()}, Type: &soft}}); err != nil {
			return err
		}
		return waitVM(c, first(), "SHUTOFF")
	})
	r.Op("BatchStartServer", func() error {
		if err := require(first()); err != nil {
			return err
		}
		if _, err := c.BatchStartServer(&wsm.BatchStartServerRequest{Body: &wsm.BatchStartServerReq{Items: []string{first()}}}); err != nil {
			return err
		}
		return waitVM(c, first(), "ACTIVE")
	})
	r.Op("BatchRebootServer", func() error {
		if err := require(first()); err != nil {
			return err
		}
		if _, err := c.BatchRebootServer(&wsm.BatchRebootServerRequest{Body: &wsm.ServerHaltReq{Items: []string{first()}, Type: &soft}}); err != nil {
			return err
		}
		return waitVM(c, first(), "ACTIVE")
	})
	r.Op("BatchDeleteServer", func() error {
		if err := require(first()); err != nil {
			return err
		}
		resp, err := c.BatchDeleteServer(&wsm.BatchDeleteServerRequest{Body: &wsm.BatchDeleteServerReq{Items: []string{first()}}})
		if err != nil {
			return err
		}
		_, err = waitJob(c, str(resp.JobId))
		return err
	})
	r.Op("DeleteServer", func() error {
		if len(servers) < 2 {
			return errors.New("skipped: the create job did not produce two servers")
		}
		resp, err := c.DeleteServer(&wsm.DeleteServerRequest{ServerId: servers[1]})
		if err != nil {
			return err
		}
		_, err = waitJob(c, str(resp.JobId))
		return err
	})
	r.Op("DeleteServerGroups", func() error {
		if err := require(groupID); err != nil {
			return err
		}
		if _, err := c.DeleteServerGroups(&wsm.DeleteServerGroupsRequest{ServerGroupId: groupID}); err != nil {
			return err
		}
		// A deleted group deletes again with 200 (Terraform relies on it).
		_, err := c.DeleteServerGroups(&wsm.DeleteServerGroupsRequest{ServerGroupId: groupID})
		return err
	})
}

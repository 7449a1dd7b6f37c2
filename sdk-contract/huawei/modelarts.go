// The ModelArts suites: services/modelarts/v1 (the DevServer, "Lite Server", operations) and
// services/bss/v2 (the order operations a yearly/monthly DevServer goes through) against the emulator's
// modelarts listener (Env.Listeners["modelarts"]; BSS is served on the same listener). The ModelArts and
// BSS SDK clients hold hundreds of other services' operations, so each suite names its scope.
//
// Scenario: a pay-per-use server created, shown, listed (paged and all), renamed, stopped, started,
// rebooted, its OS changed and reinstalled, deleted until ShowDevServer answers ModelArts.6404; a
// yearly/monthly server ordered (no server until paid), the order read, paid, the server found by
// order_id, its delete refused before expiry, its resource queried and unsubscribed; a second order
// cancelled. Checks: a bad signature, a foreign project, the project lookup the basic credentials do.
package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/basic"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/global"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/region"
	bss "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/bss/v2"
	bssmodel "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/bss/v2/model"
	modelarts "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/modelarts/v1"
	mamodel "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/modelarts/v1/model"
)

func init() {
	register(Suite{
		Cloud:   "Huawei Cloud",
		Service: "modelarts",
		Package: "huaweicloud-sdk-go-v3 services/modelarts/v1",
		Client:  (*modelarts.ModelArtsClient)(nil),
		Scope: []string{
			"CreateDevServer", "ShowDevServer", "ListDevServers", "ListAllDevServers", "UpdateDevServer",
			"StartDevServer", "StopDevServer", "RebootDevServer", "ChangeDevServerOS",
			"ReinstallDevServerOS", "DeleteDevServer", "ListDevServerFlavors", "ListDevServerImages",
			"GetDevServerImage", "BatchDevServersAction", "SyncDevServers",
		},
		Run: runModelArts,
	})
	register(Suite{
		Cloud:   "Huawei Cloud",
		Service: "bss",
		Package: "huaweicloud-sdk-go-v3 services/bss/v2",
		Client:  (*bss.BssClient)(nil),
		Scope: []string{
			"ShowCustomerOrderDetails", "PayOrders", "CancelCustomerOrder",
			"CancelResourcesSubscription", "ListPayPerUseCustomerResources",
		},
		Run: runBss,
	})
}

// The emulator's built-in ModelArts catalog (docs/emulator.md § ModelArts).
const (
	maVPC       = "05982b48-a70f-43a1-a2b0-1fe36a236172"
	maSubnet    = "38cf274a-98f9-4f6f-b622-5ed0e4a3db54"
	maSG        = "150a2c76-1334-45f6-b28f-419f9b1d1742"
	maImage     = "c90fb553-2cdb-4b81-b56a-ef68812c6cf7"
	maGPUImage  = "4f7a3b6e-2d1c-4e8f-9a0b-5c6d7e8f9a01"
	maFlavor    = "Si2.large.4"
	maKeyPair   = "KeyPair-edgefleet"
	maPassword  = "@DevServer1"
	maMissingID = "d88eb9ef-0000-4000-8000-000000000000"
)

func maURL(env Env) string {
	if u, ok := env.Listeners["modelarts"]; ok {
		return u
	}
	return env.Endpoint
}

// newModelArts builds a ModelArts client as a user would: basic credentials (the SDK finds the project
// id of the region through GET /v3/projects?name=cn-north-4 unless projectID is given) and the region's
// endpoint and the IAM endpoint overridden to the emulator.
func newModelArts(env Env, sk, projectID string) (*modelarts.ModelArtsClient, error) {
	url := maURL(env)
	cb := basic.NewCredentialsBuilder().WithAk(env.AK).WithSk(sk).WithIamEndpointOverride(url)
	if projectID != "" {
		cb = cb.WithProjectId(projectID)
	}
	cred, err := cb.SafeBuild()
	if err != nil {
		return nil, err
	}
	client, err := modelarts.ModelArtsClientBuilder().
		WithRegion(region.NewRegion(regionID, url)).
		WithCredential(cred).
		WithHttpConfig(httpConfig()).
		SafeBuild()
	if err != nil {
		return nil, err
	}
	return modelarts.NewModelArtsClient(client), nil
}

// newBss builds a BSS client: global credentials with the account's domain id, the BSS endpoint being
// the emulator's modelarts listener.
func newBss(env Env) (*bss.BssClient, error) {
	url := maURL(env)
	cred, err := global.NewCredentialsBuilder().WithAk(env.AK).WithSk(env.SK).
		WithDomainId(env.DomainID).WithIamEndpointOverride(url).SafeBuild()
	if err != nil {
		return nil, err
	}
	client, err := bss.BssClientBuilder().
		WithRegion(region.NewRegion("cn-north-1", url)).
		WithCredential(cred).
		WithHttpConfig(httpConfig()).
		SafeBuild()
	if err != nil {
		return nil, err
	}
	return bss.NewBssClient(client), nil
}

func maCreateBody(name string) *mamodel.ServerCreateRequest {
	arch := mamodel.GetServerCreateRequestArchEnum().X86
	kind := mamodel.GetServerCreateRequestServerTypeEnum().ECS
	size := int32(100)
	volume := mamodel.GetEvsVolumeTypeEnum().GPSSD
	return &mamodel.ServerCreateRequest{
		Name:             name,
		Flavor:           s(maFlavor),
		ImageId:          maImage,
		AdminPass:        s(maPassword),
		Arch:             &arch,
		ServerType:       &kind,
		AvailabilityZone: s("cn-north-4a"),
		Network: &mamodel.ServerNetwork{
			VpcId: maVPC, SubnetId: maSubnet, SecurityGroupId: maSG, Ipv6Enable: b(false),
		},
		RootVolume: &mamodel.EvsVolume{Size: &size, Type: &volume},
		UserData:   s("IyEvYmluL2Jhc2gKZWNobyBoaQo="),
		ChargingInfo: &mamodel.ChargingInfo{
			ChargingMode: mamodel.GetChargingInfoChargingModeEnum().POST_PAID,
		},
	}
}

func maStatus(c *modelarts.ModelArtsClient, id string) (string, error) {
	resp, err := c.ShowDevServer(&mamodel.ShowDevServerRequest{Id: id})
	if err != nil {
		return "", err
	}
	if resp.Status == nil {
		return "", errors.New("ShowDevServer answered no status")
	}
	return resp.Status.Value(), nil
}

// maWait polls ShowDevServer until the server has status want (zero delays: the next request sees it).
func maWait(c *modelarts.ModelArtsClient, id, want string) error {
	last := ""
	for i := 0; i < 100; i++ {
		st, err := maStatus(c, id)
		if err != nil {
			return err
		}
		if last = st; last == want {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("DevServer %s is %s, want %s", id, last, want)
}

func runModelArts(env Env, r *Recorder) {
	c, err := newModelArts(env, env.SK, "")
	r.Check("basic credentials find the project through IAM", func() error { return err })
	if err != nil {
		return
	}
	r.Check("a bad signature is 401 APIGW.0301", func() error {
		bad, err := newModelArts(env, "not-the-secret-key", "0123456789abcdef0123456789abcdef")
		if err != nil {
			return err
		}
		_, err = bad.ListDevServers(&mamodel.ListDevServersRequest{})
		return ExpectServiceError(err, 401, "APIGW.0301")
	})
	r.Check("another project is 403 ModelArts.0204", func() error {
		other, err := newModelArts(env, env.SK, "0123456789abcdef0123456789abcdef")
		if err != nil {
			return err
		}
		_, err = other.ListDevServers(&mamodel.ListDevServersRequest{})
		return ExpectServiceError(err, 403, "ModelArts.0204")
	})

	r.Op("ListDevServerFlavors", func() error {
		resp, err := c.ListDevServerFlavors(&mamodel.ListDevServerFlavorsRequest{ServerType: s("ECS"), Arch: s("X86")})
		if err != nil {
			return err
		}
		if resp.Data == nil || len(*resp.Data) == 0 || str((*resp.Data)[0].Flavor) == "" {
			return errors.New("no ECS X86 flavor listed")
		}
		return nil
	})
	r.Op("ListDevServerImages", func() error {
		resp, err := c.ListDevServerImages(&mamodel.ListDevServerImagesRequest{FlavorName: s(maFlavor)})
		if err != nil {
			return err
		}
		if resp.Total == nil || *resp.Total < 1 {
			return errors.New("no image for the default flavor")
		}
		return nil
	})
	r.Op("GetDevServerImage", func() error {
		resp, err := c.GetDevServerImage(&mamodel.GetDevServerImageRequest{Id: maImage})
		if err != nil {
			return err
		}
		if str(resp.ImageId) != maImage || resp.Arch == nil || resp.Arch.Value() != "X86" {
			return fmt.Errorf("image answer %+v", resp)
		}
		return nil
	})

	var id string
	r.Op("CreateDevServer", func() error {
		resp, err := c.CreateDevServer(&mamodel.CreateDevServerRequest{Body: maCreateBody("sdk-devserver")})
		if err != nil {
			return err
		}
		id = str(resp.Id)
		if id == "" || resp.Status == nil || resp.Status.Value() != "CREATING" {
			return fmt.Errorf("create answered id %q status %v", id, resp.Status)
		}
		if resp.ChargingMode == nil || resp.ChargingMode.Value() != "POST_PAID" {
			return fmt.Errorf("charging mode %v", resp.ChargingMode)
		}
		return nil
	})
	r.Op("CreateDevServer", func() error {
		body := maCreateBody("sdk-bad-network")
		body.Network.SecurityGroupId = "not-a-uuid"
		_, err := c.CreateDevServer(&mamodel.CreateDevServerRequest{Body: body})
		return ExpectServiceError(err, 400, "ModelArts.0104")
	})
	r.Op("ShowDevServer", func() error {
		if err := require(id); err != nil {
			return err
		}
		if err := maWait(c, id, "RUNNING"); err != nil {
			return err
		}
		resp, err := c.ShowDevServer(&mamodel.ShowDevServerRequest{Id: id})
		if err != nil {
			return err
		}
		if str(resp.VpcId) != maVPC || resp.Image == nil || str(resp.Image.ImageId) != maImage ||
			resp.CloudServer == nil || resp.CloudServer.Type.Value() != "ECS" || resp.CreateAt == nil {
			return fmt.Errorf("show answered %+v", resp)
		}
		return nil
	})
	r.Op("ShowDevServer", func() error {
		_, err := c.ShowDevServer(&mamodel.ShowDevServerRequest{Id: maMissingID})
		return ExpectServiceError(err, 400, "ModelArts.6404")
	})
	r.Op("ListDevServers", func() error {
		asc := mamodel.GetListDevServersRequestSortDirEnum().ASC
		resp, err := c.ListDevServers(&mamodel.ListDevServersRequest{
			Limit: i32(1), Offset: i32(0), SortDir: &asc, SortKey: s("createTime"),
		})
		if err != nil {
			return err
		}
		if resp.Total == nil || *resp.Total < 1 || resp.Data == nil || len(*resp.Data) != 1 ||
			resp.Size == nil || *resp.Size != 1 || resp.Current == nil || *resp.Current != 1 {
			return fmt.Errorf("list answered total %v size %v current %v", resp.Total, resp.Size, resp.Current)
		}
		return nil
	})
	r.Op("ListAllDevServers", func() error {
		resp, err := c.ListAllDevServers(&mamodel.ListAllDevServersRequest{})
		if err != nil {
			return err
		}
		if resp.Data == nil || len(*resp.Data) < 1 {
			return errors.New("list all answered no server")
		}
		return nil
	})
	r.Op("UpdateDevServer", func() error {
		if err := require(id); err != nil {
			return err
		}
		resp, err := c.UpdateDevServer(&mamodel.UpdateDevServerRequest{Id: id, Body: &mamodel.UpdateServerRequest{Name: "sdk-renamed"}})
		if err != nil {
			return err
		}
		if str(resp.Name) != "sdk-renamed" {
			return fmt.Errorf("renamed to %q", str(resp.Name))
		}
		return nil
	})
	r.Op("StopDevServer", func() error {
		if err := require(id); err != nil {
			return err
		}
		if _, err := c.StopDevServer(&mamodel.StopDevServerRequest{Id: id}); err != nil {
			return err
		}
		return maWait(c, id, "STOPPED")
	})
	r.Op("StartDevServer", func() error {
		if err := require(id); err != nil {
			return err
		}
		if _, err := c.StartDevServer(&mamodel.StartDevServerRequest{Id: id, Body: &mamodel.ServerStartRequest{}}); err != nil {
			return err
		}
		if err := maWait(c, id, "RUNNING"); err != nil {
			return err
		}
		_, err := c.StartDevServer(&mamodel.StartDevServerRequest{Id: id, Body: &mamodel.ServerStartRequest{}})
		return ExpectServiceError(err, 400, "ModelArts.6305")
	})
	r.Op("RebootDevServer", func() error {
		if err := require(id); err != nil {
			return err
		}
		if _, err := c.RebootDevServer(&mamodel.RebootDevServerRequest{Id: id}); err != nil {
			return err
		}
		return maWait(c, id, "RUNNING")
	})
	r.Op("ChangeDevServerOS", func() error {
		if err := require(id); err != nil {
			return err
		}
		resp, err := c.ChangeDevServerOS(&mamodel.ChangeDevServerOsRequest{Id: id, Body: &mamodel.ServerOsRequest{
			KeyPairName: s(maKeyPair), ImageId: s(maGPUImage),
		}})
		if err != nil {
			return err
		}
		if resp.Image == nil || str(resp.Image.ImageId) != maGPUImage {
			return fmt.Errorf("change OS answered image %+v", resp.Image)
		}
		return maWait(c, id, "RUNNING")
	})
	r.Op("ReinstallDevServerOS", func() error {
		if err := require(id); err != nil {
			return err
		}
		if _, err := c.ReinstallDevServerOS(&mamodel.ReinstallDevServerOsRequest{Id: id, Body: &mamodel.ServerOsRequest{
			AdminPass: s(maPassword),
		}}); err != nil {
			return err
		}
		return maWait(c, id, "RUNNING")
	})
	r.Op("SyncDevServers", func() error {
		resp, err := c.SyncDevServers(&mamodel.SyncDevServersRequest{Limit: i32(10), Offset: i32(0)})
		if err != nil {
			return err
		}
		if resp.Total == nil || *resp.Total < 1 {
			return errors.New("sync answered no server")
		}
		return nil
	})
	r.Op("BatchDevServersAction", func() error {
		if err := require(id); err != nil {
			return err
		}
		kind := mamodel.GetDevServerBatchRequestTypeEnum().REBOOT
		resp, err := c.BatchDevServersAction(&mamodel.BatchDevServersActionRequest{Body: &mamodel.DevServerBatchRequest{
			Type: kind, Servers: []mamodel.BatchActionDevServerIds{{Id: id}},
		}})
		if err != nil {
			return err
		}
		if resp.Data == nil || len(*resp.Data) != 1 || (*resp.Data)[0].Status.Value() != "REBOOTING" {
			return fmt.Errorf("batch reboot answered %+v", resp.Data)
		}
		return maWait(c, id, "RUNNING")
	})
	r.Op("DeleteDevServer", func() error {
		if err := require(id); err != nil {
			return err
		}
		resp, err := c.DeleteDevServer(&mamodel.DeleteDevServerRequest{Id: id})
		if err != nil {
			return err
		}
		if resp.Status == nil || resp.Status.Value() != "DELETING" {
			return fmt.Errorf("delete answered status %v", resp.Status)
		}
		for i := 0; i < 100; i++ {
			_, err = c.ShowDevServer(&mamodel.ShowDevServerRequest{Id: id})
			if err != nil {
				return ExpectServiceError(err, 400, "ModelArts.6404")
			}
			time.Sleep(20 * time.Millisecond)
		}
		return fmt.Errorf("DevServer %s is still there", id)
	})
}

// prepaidBody is a one-month yearly/monthly create, paid by hand.
func prepaidBody(name string) *mamodel.ServerCreateRequest {
	body := maCreateBody(name)
	body.ChargingInfo = &mamodel.ChargingInfo{
		ChargingMode: mamodel.GetChargingInfoChargingModeEnum().PRE_PAID,
		PeriodType:   mamodel.GetChargingInfoPeriodTypeEnum().MONTH,
		PeriodNum:    1,
		IsAutoPay:    b(false),
		IsAutoRenew:  b(false),
	}
	return body
}

// serverOfOrder pages ListDevServers (as TF-HW does) for the server bought by orderID.
func serverOfOrder(c *modelarts.ModelArtsClient, orderID string) (string, error) {
	offset := int32(0)
	for {
		resp, err := c.ListDevServers(&mamodel.ListDevServersRequest{Limit: i32(100), Offset: &offset})
		if err != nil {
			return "", err
		}
		if resp.Data == nil || len(*resp.Data) == 0 {
			return "", nil
		}
		for _, srv := range *resp.Data {
			if str(srv.OrderId) == orderID {
				return str(srv.Id), nil
			}
		}
		offset += int32(len(*resp.Data))
	}
}

func orderStatus(bc *bss.BssClient, orderID string) (int32, error) {
	resp, err := bc.ShowCustomerOrderDetails(&bssmodel.ShowCustomerOrderDetailsRequest{OrderId: orderID})
	if err != nil {
		return 0, err
	}
	if resp.OrderInfo == nil || resp.OrderInfo.Status == nil {
		return 0, errors.New("order details without a status")
	}
	return *resp.OrderInfo.Status, nil
}

func runBss(env Env, r *Recorder) {
	c, err := newModelArts(env, env.SK, "")
	if err == nil {
		var bc *bss.BssClient
		bc, err = newBss(env)
		if err == nil {
			runPrepaid(c, bc, r)
			return
		}
	}
	r.Check("ModelArts and BSS clients build", func() error { return err })
}

func runPrepaid(c *modelarts.ModelArtsClient, bc *bss.BssClient, r *Recorder) {
	var orderID, id string
	r.Check("a PRE_PAID create answers an order id and no server", func() error {
		resp, err := c.CreateDevServer(&mamodel.CreateDevServerRequest{Body: prepaidBody("sdk-monthly")})
		if err != nil {
			return err
		}
		orderID = str(resp.OrderId)
		if orderID == "" || str(resp.Id) != "" {
			return fmt.Errorf("prepaid create answered order %q id %q", orderID, str(resp.Id))
		}
		found, err := serverOfOrder(c, orderID)
		if err == nil && found != "" {
			err = fmt.Errorf("server %s exists before the order is paid", found)
		}
		return err
	})
	r.Op("ShowCustomerOrderDetails", func() error {
		if err := require(orderID); err != nil {
			return err
		}
		st, err := orderStatus(bc, orderID)
		if err == nil && st != 6 {
			err = fmt.Errorf("new order status %d, want 6 (pending payment)", st)
		}
		return err
	})
	r.Op("ShowCustomerOrderDetails", func() error {
		_, err := bc.ShowCustomerOrderDetails(&bssmodel.ShowCustomerOrderDetailsRequest{OrderId: "CSNOSUCHORDER"})
		return ExpectServiceError(err, 400, "CBC.30000010")
	})
	r.Op("PayOrders", func() error {
		if err := require(orderID); err != nil {
			return err
		}
		_, err := bc.PayOrders(&bssmodel.PayOrdersRequest{Body: &bssmodel.PayCustomerOrderV3Req{
			OrderId: orderID, UseCoupon: "NO", UseDiscount: "NO",
		}})
		if err != nil {
			return err
		}
		if id, err = serverOfOrder(c, orderID); err != nil {
			return err
		}
		if id == "" {
			return errors.New("no server carries the paid order's id")
		}
		if err := maWait(c, id, "RUNNING"); err != nil {
			return err
		}
		st, err := orderStatus(bc, orderID)
		if err == nil && st != 5 {
			err = fmt.Errorf("paid order status %d, want 5 (completed)", st)
		}
		return err
	})
	r.Check("a yearly/monthly server's delete before expiry is 400 ModelArts.7000", func() error {
		if err := require(id); err != nil {
			return err
		}
		_, err := c.DeleteDevServer(&mamodel.DeleteDevServerRequest{Id: id})
		return ExpectServiceError(err, 400, "ModelArts.7000")
	})
	r.Op("ListPayPerUseCustomerResources", func() error {
		if err := require(id); err != nil {
			return err
		}
		resp, err := bc.ListPayPerUseCustomerResources(&bssmodel.ListPayPerUseCustomerResourcesRequest{
			Body: &bssmodel.QueryResourcesReq{ResourceIds: &[]string{id}},
		})
		if err != nil {
			return err
		}
		if resp.Data == nil || len(*resp.Data) != 1 || str((*resp.Data)[0].ResourceId) != id ||
			str((*resp.Data)[0].ExpireTime) == "" {
			return fmt.Errorf("resources answered %+v", resp.Data)
		}
		return nil
	})
	r.Op("CancelResourcesSubscription", func() error {
		if err := require(id); err != nil {
			return err
		}
		resp, err := bc.CancelResourcesSubscription(&bssmodel.CancelResourcesSubscriptionRequest{
			Body: &bssmodel.UnsubscribeResourcesReq{ResourceIds: []string{id}, UnsubscribeType: 1},
		})
		if err != nil {
			return err
		}
		if resp.OrderIds == nil || len(*resp.OrderIds) != 1 {
			return fmt.Errorf("unsubscribe answered %+v", resp.OrderIds)
		}
		for i := 0; i < 100; i++ {
			if _, err = c.ShowDevServer(&mamodel.ShowDevServerRequest{Id: id}); err != nil {
				return ExpectServiceError(err, 400, "ModelArts.6404")
			}
			time.Sleep(20 * time.Millisecond)
		}
		return fmt.Errorf("unsubscribed DevServer %s is still there", id)
	})
	r.Op("CancelResourcesSubscription", func() error {
		if err := require(id); err != nil {
			return err
		}
		_, err := bc.CancelResourcesSubscription(&bssmodel.CancelResourcesSubscriptionRequest{
			Body: &bssmodel.UnsubscribeResourcesReq{ResourceIds: []string{id}, UnsubscribeType: 1},
		})
		return ExpectServiceError(err, 400, "CBC.30000067")
	})
	r.Op("CancelCustomerOrder", func() error {
		resp, err := c.CreateDevServer(&mamodel.CreateDevServerRequest{Body: prepaidBody("sdk-cancelled")})
		if err != nil {
			return err
		}
		other := str(resp.OrderId)
		if _, err := bc.CancelCustomerOrder(&bssmodel.CancelCustomerOrderRequest{
			Body: &bssmodel.CancelCustomerOrderReq{OrderId: other},
		}); err != nil {
			return err
		}
		st, err := orderStatus(bc, other)
		if err == nil && st != 4 {
			err = fmt.Errorf("cancelled order status %d, want 4", st)
		}
		if err != nil {
			return err
		}
		found, err := serverOfOrder(c, other)
		if err == nil && found != "" {
			err = fmt.Errorf("server %s exists for a cancelled order", found)
		}
		return err
	})
}

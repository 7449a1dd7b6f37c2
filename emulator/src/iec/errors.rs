//! The IEC error-code catalogue (doc §7.2, all 161 codes): each [`Code`] knows its HTTP status and
//! message template (`%s`/`%d` placeholders are filled by [`Code::msg`]). Generated from the digest
//! `shared/reference/iec-api.md` §3; edit only to fix a transcription error.

use axum::http::StatusCode;

use crate::core::error::ApiError;

/// An IEC error code (`IEC.NNNNNN` → `Code::ENNNNNN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    /// 400: querying quota failed.
    E000000,
    /// 400: bad URL query parameter.
    E000006,
    /// 400: bad request-body parameter.
    E000007,
    /// 400: bad URL path.
    E000008,
    /// 400: illegal parameter in body.
    E000010,
    /// 400: illegal URL path parameter.
    E000030,
    /// 400: URL path parameter empty.
    E000031,
    /// 400: edge cloud is in an intermediate state (create/expand/deploy/delete).
    E010002,
    /// 400: invalid edge cloud name.
    E010004,
    /// 400: edge cloud name empty.
    E010005,
    /// 400: a failed edge cloud can only be deleted.
    E010009,
    /// 400: invalid description.
    E010010,
    /// 400: expand failed: could not read the request entity.
    E010020,
    /// 400: (Chinese description:) the deployment plan does not belong to the edge cloud; expansion requires matching edge cloud and plan. Note: the English message instead says the tenant's number of *open* deployment plans exceeds a limit — the two texts disagree.
    E010101,
    /// 400: instance still being created cannot be deleted.
    E010203,
    /// 400: invalid batch action key.
    E010210,
    /// 400: keypair creation failed.
    E010221,
    /// 400: change-OS image id not a UUID.
    E010223,
    /// 400: change-OS parameters invalid.
    E010224,
    /// 400: invalid keypair-create params (name).
    E010225,
    /// 400: query keypair failed.
    E010227,
    /// 400: keypair import body incorrect.
    E010229,
    /// 400: invalid field inside the resource group (stack).
    E010303,
    /// 400: invalid instance (resource) name; required; Chinese description says length 1–32 (the §4 tables say 1–48 — inconsistent).
    E010401,
    /// 400: resource not in running state, cannot be modified.
    E010406,
    /// 400: name/description length illegal (or contains </>).
    E010410,
    /// 400: flavor not supported.
    E010603,
    /// 400: (description says) edge image does not exist.
    E010641,
    /// 400: instance count must be a positive integer.
    E010700,
    /// 400: invalid coverage.
    E010800,
    /// 400: scheduling error.
    E010900,
    /// 400: insufficient quota.
    E010910,
    /// 400: no available site.
    E011018,
    /// 400: listing subnets failed.
    E020000,
    /// 400: get subnet failed.
    E020004,
    /// 400: update subnet failed.
    E020006,
    /// 400: subnet in use by compute resources.
    E020008,
    /// 400: subnet in use by VIPs.
    E020009,
    /// 400: dnsList inconsistent with primary/secondary DNS.
    E020010,
    /// 400: enabling IPv6 failed.
    E020012,
    /// 400: subnet cidr or gateway invalid.
    E020013,
    /// 400: subnet in use by private IPs.
    E020014,
    /// 400: delete VPC failed.
    E020100,
    /// 400: VPC count failed.
    E020102,
    /// 400: VPC list failed.
    E020103,
    /// 400: subnets cannot be created manually in a system-planned (SYSTEM) VPC.
    E020107,
    /// 400: CIDR computation failed.
    E020108,
    /// 400: update VPC failed.
    E020111,
    /// 400: get VPC failed.
    E020112,
    /// 400: invalid VPC mode.
    E020114,
    /// 400: invalid VPC cidr.
    E020115,
    /// 400: create SG failed.
    E020200,
    /// 400: get SG failed.
    E020201,
    /// 400: delete SG failed.
    E020202,
    /// 400: list SGs failed.
    E020203,
    /// 400: create SG rule failed.
    E020300,
    /// 400: get SG rule failed.
    E020301,
    /// 400: delete SG rule failed.
    E020302,
    /// 400: list SG rules failed.
    E020303,
    /// 400: too many rules in the SG.
    E020306,
    /// 400: remote address family ≠ ethertype.
    E020307,
    /// 400: both remote_ip_prefix and remote_group_id given.
    E020308,
    /// 400: the default SG cannot be created manually.
    E020310,
    /// 400: edge network quota insufficient.
    E020401,
    /// 400: invalid site id.
    E020403,
    /// 400: update network quota failed.
    E020405,
    /// 400: IPv6 cannot be disabled once enabled.
    E020409,
    /// 400: get port failed.
    E020600,
    /// 400: bind port failed.
    E020601,
    /// 400: list ports failed.
    E020602,
    /// 400: create port failed.
    E020603,
    /// 400: unbind port failed.
    E020604,
    /// 400: update port failed.
    E020605,
    /// 400: delete port failed.
    E020606,
    /// 400: invalid IP address.
    E020608,
    /// 400: invalid port id.
    E020609,
    /// 400: a VIP can be bound to only one VM.
    E020610,
    /// 400: invalid NIC id for VIP binding.
    E020611,
    /// 400: VIP already bound to a bandwidth.
    E020612,
    /// 400: only IPv6 VIPs may bind a bandwidth.
    E020613,
    /// 400: VIP not bound → cannot unbind.
    E020614,
    /// 400: VIP already bound to a NIC.
    E020615,
    /// 400: IP already used.
    E020616,
    /// 400: IP pool exhausted.
    E020617,
    /// 400: IP not in subnet.
    E020618,
    /// 400: list EIPs failed.
    E020700,
    /// 400: create EIP failed.
    E020701,
    /// 400: invalid EIP-create body.
    E020702,
    /// 400: delete EIP failed.
    E020703,
    /// 400: update EIP failed.
    E020704,
    /// 400: get EIP failed.
    E020705,
    /// 400: EIP cannot bind across sites.
    E020707,
    /// 400: EIP still being created.
    E020708,
    /// 400: line (EIP type) not supported.
    E020711,
    /// 400: EIP bound to a port cannot be deleted.
    E020712,
    /// 400: no available line id.
    E020713,
    /// 400: invalid ip_version (must be 4 or absent).
    E020714,
    /// 400: ip_version mismatches the IP address.
    E020715,
    /// 400: EIP address already used.
    E020716,
    /// 400: EIP pool exhausted.
    E020717,
    /// 400: invalid EIP id.
    E020718,
    /// 400: list bandwidths failed.
    E020801,
    /// 400: get bandwidth failed.
    E020803,
    /// 400: invalid bandwidth id.
    E020804,
    /// 400: invalid bandwidth size.
    E020809,
    /// 400: bandwidth frozen.
    E020810,
    /// 400: bandwidth size quota insufficient.
    E020817,
    /// 400: bandwidth size missing.
    E020819,
    /// 400: bad ACL-update params.
    E020909,
    /// 400: bad ACL-rule-update params.
    E020910,
    /// 400: bad ACL-create params.
    E020911,
    /// 400: ACL id not a UUID.
    E020915,
    /// 400: negative offset.
    E020916,
    /// 400: ACL rule does not support IPv6 (Note: contradicts §2.11.6 which allows ip_version 6/icmpv6; consistent with the legacy API §2.17).
    E020917,
    /// 401: no token header.
    E000002,
    /// 401: token invalid/illegal.
    E000003,
    /// 401: token expired.
    E000004,
    /// 401: token carries no domain_id.
    E000009,
    /// 403: insufficient permission.
    E000005,
    /// 404: generic resource not found.
    E000022,
    /// 404: edge cloud id does not exist.
    E010000,
    /// 404: deployment plan not found or not open.
    E010100,
    /// 404: instance id does not exist.
    E010200,
    /// 404: keypair name not found.
    E010220,
    /// 404: stack (resource group) id not found.
    E010307,
    /// 404: volume not found.
    E010560,
    /// 404: edge region not found.
    E011010,
    /// 404: subnet not found.
    E020003,
    /// 404: VPC not found.
    E020104,
    /// 404: SG not found.
    E020204,
    /// 404: SG rule not found.
    E020304,
    /// 404: deleting the default SG (odd: 404).
    E020311,
    /// 404: port not found.
    E020607,
    /// 404: EIP not found.
    E020706,
    /// 404: bandwidth not found.
    E020811,
    /// 404: network ACL not found.
    E020903,
    /// 404: edge image not found.
    E030201,
    /// 404: edge image already deleted.
    E030202,
    /// 409: edge cloud name already exists (names are unique).
    E010008,
    /// 409: instance state does not allow change-OS or another operation is running.
    E010222,
    /// 409: subnet CIDR overlaps an existing one in the VPC.
    E020007,
    /// 409: VPC name already exists.
    E020105,
    /// 409: VPC still has subnets; cannot delete.
    E020113,
    /// 409: SG rule port range invalid.
    E020305,
    /// 500: internal error.
    E000001,
    /// 500: add keypair failed.
    E010226,
    /// 500: list keypairs failed.
    E010228,
    /// 500: import keypair failed.
    E010230,
    /// 500: delete subnet failed.
    E020001,
    /// 500: create VPC failed.
    E020101,
    /// 500: get default SG failed.
    E020206,
    /// 500: list ACLs failed.
    E020901,
    /// 500: get ACL failed.
    E020902,
    /// 500: delete ACL failed.
    E020904,
    /// 500: create ACL failed.
    E020905,
    /// 500: update ACL failed.
    E020906,
    /// 500: update ACL rule failed.
    E020907,
    /// 500: internal error.
    E020912,
    /// 500: ACL still associated with subnets cannot be deleted (odd: 500).
    E020913,
    /// 500: subnet already associated with another ACL (odd: 500).
    E020914,
    /// 500: service unavailable.
    E030002,
}

impl Code {
    /// `(HTTP status, code string, message template)`.
    pub fn spec(self) -> (u16, &'static str, &'static str) {
        match self {
            Code::E000000 => (400, "IEC.000000", "get the quota failed"),
            Code::E000006 => (400, "IEC.000006", "the query parameter is illegal"),
            Code::E000007 => (400, "IEC.000007", "The request body parameter is illegal: %s."),
            Code::E000008 => (400, "IEC.000008", "request uri is illegal!"),
            Code::E000010 => (400, "IEC.000010", "the request body is illegal!"),
            Code::E000030 => (
                400,
                "IEC.000030",
                "request uri path param (%s) is illegal! Please correct it.",
            ),
            Code::E000031 => (
                400,
                "IEC.000031",
                "request uri path param (%s) can't be empty!Please input it.",
            ),
            Code::E010002 => (
                400,
                "IEC.010002",
                "EdgeCloud (%s) in [creating, updating, schedulering, deleting] status can not be deleted or expand.Please wait it finished.",
            ),
            Code::E010004 => (
                400,
                "IEC.010004",
                "Edge cloud name (%s) is invalid! It should be Set.Or it has been Set, it should be consist of number, letter, chinese or underline and its length is between 1 and 32",
            ),
            Code::E010005 => (400, "IEC.010005", "edge cloud name must be set"),
            Code::E010009 => (
                400,
                "IEC.010009",
                "EdgeCloud (%s) in failed status can only be deleted.Other Operation is not allowed.",
            ),
            Code::E010010 => (400, "IEC.010010", "Edge cloud description is invalid! Error: %s"),
            Code::E010020 => (
                400,
                "IEC.010020",
                "EdgeCloud (%s) updating by id failed because of the failure read entity.",
            ),
            Code::E010101 => (
                400,
                "IEC.010101",
                "Tenant's open deployment is beyond limitation.This account (domain_id:%s) may be attacking IEC service",
            ),
            Code::E010203 => (
                400,
                "IEC.010203",
                "server %s in [creating] can not be deleted, please wait it created.",
            ),
            Code::E010210 => (
                400,
                "IEC.010210",
                "Batch action: (%s) is invalid, it only support reboot/os-stop/os-start.",
            ),
            Code::E010221 => (400, "IEC.010221", "add keypair failed! Error: %s"),
            Code::E010223 => (
                400,
                "IEC.010223",
                "ChangeOS action ImageID %s is invalid. Error: Image ID is not legal UUID.",
            ),
            Code::E010224 => (400, "IEC.010224", "Request body has illegal parameter"),
            Code::E010225 => (400, "IEC.010225", "key pair name (%s) is illegal. err: %s"),
            Code::E010227 => (400, "IEC.010227", "get key pair %s failed."),
            Code::E010229 => (400, "IEC.010229", "import keypair failed! Error: %s"),
            Code::E010303 => (400, "IEC.010303", "stack config is invalid!Error: %s"),
            Code::E010401 => (
                400,
                "IEC.010401",
                "Resource's(Instance) name is invalid! It should consist of number/chinese/./a-z/A-Z/-/_ and it's length should be between 1 and %d.",
            ),
            Code::E010406 => (
                400,
                "IEC.010406",
                "Resource (%s) status is (%s) and server is (%s)!It's not support updating.",
            ),
            Code::E010410 => (
                400,
                "IEC.010410",
                "Description field length cannot be greater than %d and cannot contain '>' and '<' characters. Error: %s",
            ),
            Code::E010603 => (400, "IEC.010603", "target flavor is not supported"),
            Code::E010641 => (400, "IEC.010641", "image_ref must be set"),
            Code::E010700 => (
                400,
                "IEC.010700",
                "Server count should not be zero or negative number",
            ),
            Code::E010800 => (400, "IEC.010800", "Coverage is invalid!Error: (%s)"),
            Code::E010900 => (400, "IEC.010900", "Schedule edgecloud failed.Error: %s."),
            Code::E010910 => (400, "IEC.010910", "quota is not enough to deploy. Error: %s"),
            Code::E011018 => (400, "IEC.011018", "no available location!"),
            Code::E020000 => (400, "IEC.020000", "get subnet list failed"),
            Code::E020004 => (400, "IEC.020004", "get subnet detail failed"),
            Code::E020006 => (400, "IEC.020006", "update subnet failed"),
            Code::E020008 => (400, "IEC.020008", "subnet is still used ,such as computer,LB."),
            Code::E020009 => (400, "IEC.020009", "subnet is still used ,such as virtual IP"),
            Code::E020010 => (
                400,
                "IEC.020010",
                "the primaryDNS or SecondaryDNS does't match the DNSList.",
            ),
            Code::E020012 => (400, "IEC.020012", "subnet enable ipv6 failed"),
            Code::E020013 => (400, "IEC.020013", "cidr or gateway is invalid"),
            Code::E020014 => (
                400,
                "IEC.020014",
                "Subnet is used by private IP, can not be deleted.",
            ),
            Code::E020100 => (400, "IEC.020100", "delete vpc in the edge net failed"),
            Code::E020102 => (400, "IEC.020102", "get vpc count failed"),
            Code::E020103 => (400, "IEC.020103", "get vpc list failed"),
            Code::E020107 => (
                400,
                "IEC.020107",
                "customer has no right to handle system resource (vpc,subnet...)",
            ),
            Code::E020108 => (400, "IEC.020108", "compute the cidr of subnet or vpc failed"),
            Code::E020111 => (400, "IEC.020111", "update vpc failed"),
            Code::E020112 => (400, "IEC.020112", "get vpc detail info failed"),
            Code::E020114 => (400, "IEC.020114", "vpc mode is illegal"),
            Code::E020115 => (400, "IEC.020115", "vpc cidr is illegal"),
            Code::E020200 => (400, "IEC.020200", "create the security group failed"),
            Code::E020201 => (400, "IEC.020201", "get the security group detail failed"),
            Code::E020202 => (400, "IEC.020202", "delete the security group failed"),
            Code::E020203 => (400, "IEC.020203", "get the security group list failed"),
            Code::E020300 => (400, "IEC.020300", "create the security group rule failed"),
            Code::E020301 => (400, "IEC.020301", "get the security group rule detail failed"),
            Code::E020302 => (400, "IEC.020302", "delete the security group rule failed"),
            Code::E020303 => (400, "IEC.020303", "get the security group rule list failed"),
            Code::E020306 => (
                400,
                "IEC.020306",
                "the max security group rule num of security group is %d",
            ),
            Code::E020307 => (400, "IEC.020307", "remote ip version must be same as ethertype"),
            Code::E020308 => (
                400,
                "IEC.020308",
                "remote ip prefix and remote group ID can't exist at same time",
            ),
            Code::E020310 => (400, "IEC.020310", "default security group can not be created"),
            Code::E020401 => (400, "IEC.020401", "the edge net quota is not enough"),
            Code::E020403 => (400, "IEC.020403", "site ID is illegal"),
            Code::E020405 => (400, "IEC.020405", "update edge net quota failed"),
            Code::E020409 => (400, "IEC.020409", "IPv6 has been enabled for the current subnet"),
            Code::E020600 => (400, "IEC.020600", "get the port detail failed"),
            Code::E020601 => (400, "IEC.020601", "bind virtual port failed"),
            Code::E020602 => (400, "IEC.020602", "get port list failed"),
            Code::E020603 => (400, "IEC.020603", "create port failed"),
            Code::E020604 => (400, "IEC.020604", "unbind virtual port failed"),
            Code::E020605 => (400, "IEC.020605", "update port info failed"),
            Code::E020606 => (400, "IEC.020606", "delete port failed"),
            Code::E020608 => (400, "IEC.020608", "ip address is illegal"),
            Code::E020609 => (400, "IEC.020609", "port ID is illegal"),
            Code::E020610 => (400, "IEC.020610", "one vip port can only bind one server"),
            Code::E020611 => (400, "IEC.020611", "net card id is illegal"),
            Code::E020612 => (400, "IEC.020612", "current vip has been bound to bandwidth"),
            Code::E020613 => (400, "IEC.020613", "only ipv6 vip can bind to bandwidth"),
            Code::E020614 => (400, "IEC.020614", "current vip is not bound to any bandwidth"),
            Code::E020615 => (400, "IEC.020615", "current vip has been bound to port"),
            Code::E020616 => (400, "IEC.020616", "The IP address is in use"),
            Code::E020617 => (400, "IEC.020617", "No more IP addresses available on network"),
            Code::E020618 => (
                400,
                "IEC.020618",
                "IP address is not a valid IP for the specified subnet",
            ),
            Code::E020700 => (400, "IEC.020700", "get the public ip list failed"),
            Code::E020701 => (400, "IEC.020701", "create public ip failed"),
            Code::E020702 => (400, "IEC.020702", "the request body is not right,please check"),
            Code::E020703 => (400, "IEC.020703", "delete public ip failed"),
            Code::E020704 => (400, "IEC.020704", "update public ip failed"),
            Code::E020705 => (400, "IEC.020705", "get public IP detail failed"),
            Code::E020707 => (400, "IEC.020707", "public ip and bind object should in same site"),
            Code::E020708 => (400, "IEC.020708", "public ip is creating, not active"),
            Code::E020711 => (400, "IEC.020711", "public ip type is not support"),
            Code::E020712 => (400, "IEC.020712", "public ip can not deleted due to bind port"),
            Code::E020713 => (400, "IEC.020713", "public ip no available pool id"),
            Code::E020714 => (
                400,
                "IEC.020714",
                "eip ip version is illegal, it must be 4 or null.",
            ),
            Code::E020715 => (
                400,
                "IEC.020715",
                "PublicIP ip version is not equal with IpAddr's version",
            ),
            Code::E020716 => (400, "IEC.020716", "The PublicIP address in use."),
            Code::E020717 => (
                400,
                "IEC.020717",
                "No more PublicIP addresses available on network",
            ),
            Code::E020718 => (400, "IEC.020718", "eip ID is illegal"),
            Code::E020801 => (400, "IEC.020801", "get bandwidth list failed"),
            Code::E020803 => (400, "IEC.020803", "get the bandwidth detail failed"),
            Code::E020804 => (400, "IEC.020804", "bandwidth ID is illegal"),
            Code::E020809 => (400, "IEC.020809", "bandwidth size is invalid"),
            Code::E020810 => (400, "IEC.020810", "bandwidth is FREEZED"),
            Code::E020817 => (400, "IEC.020817", "bandwidth size quota is not enough"),
            Code::E020819 => (400, "IEC.020819", "bandwidth size can't be nil"),
            Code::E020909 => (400, "IEC.020909", "update firewall parameter incorrect"),
            Code::E020910 => (400, "IEC.020910", "update firewall rule parameter incorrect"),
            Code::E020911 => (400, "IEC.020911", "create firewall parameter incorrect"),
            Code::E020915 => (400, "IEC.020915", "firewall ID incorrect, should be uuid format"),
            Code::E020916 => (400, "IEC.020916", "offset can not be a negative number"),
            Code::E020917 => (400, "IEC.020917", "firewall rule is not support IPv6"),
            Code::E000002 => (401, "IEC.000002", "X-Auth-Token not found in request head."),
            Code::E000003 => (401, "IEC.000003", "Invalid token"),
            Code::E000004 => (401, "IEC.000004", "token is expired"),
            Code::E000009 => (401, "IEC.000009", "domain_id is not found in user token!"),
            Code::E000005 => (403, "IEC.000005", "the current user have no access to service"),
            Code::E000022 => (404, "IEC.000022", "Resource not found"),
            Code::E010000 => (
                404,
                "IEC.010000",
                "EdgeCloud id (%s) not existed. Once edgeCloud id is set, it must ensure existed.",
            ),
            Code::E010100 => (
                404,
                "IEC.010100",
                "Open deployment id (%s) is not exist or not open.Only existed open deployment can do deploying.",
            ),
            Code::E010200 => (404, "IEC.010200", "EdgeInstance id is not exist"),
            Code::E010220 => (404, "IEC.010220", "Key pair name (%s) not found."),
            Code::E010307 => (404, "IEC.010307", "stack id (%s) is not existed!"),
            Code::E010560 => (404, "IEC.010560", "Volume (%s) could not be found."),
            Code::E011010 => (
                404,
                "IEC.011010",
                "The location (area/province/city/operator) not found!",
            ),
            Code::E020003 => (404, "IEC.020003", "subnet is not found"),
            Code::E020104 => (404, "IEC.020104", "the vpc is not found"),
            Code::E020204 => (404, "IEC.020204", "security group is not found"),
            Code::E020304 => (404, "IEC.020304", "security group rule is not found"),
            Code::E020311 => (404, "IEC.020311", "default security group can't be deleted"),
            Code::E020607 => (404, "IEC.020607", "port is not found"),
            Code::E020706 => (404, "IEC.020706", "public IP is not found"),
            Code::E020811 => (404, "IEC.020811", "bandwidth is not found"),
            Code::E020903 => (404, "IEC.020903", "firewall is not found"),
            Code::E030201 => (404, "IEC.030201", "The edge image is not exist"),
            Code::E030202 => (404, "IEC.030202", "The edge image already deleted"),
            Code::E010008 => (409, "IEC.010008", "EdgeCloud name(%s) is already exist."),
            Code::E010222 => (409, "IEC.010222", "ChangeOS action Error"),
            Code::E020007 => (
                409,
                "IEC.020007",
                "subnet cidr is conflict with vpc or other subnets",
            ),
            Code::E020105 => (409, "IEC.020105", "vpc name is exist"),
            Code::E020113 => (409, "IEC.020113", "vpc contains subnets"),
            Code::E020305 => (
                409,
                "IEC.020305",
                "port num should between 1 and 65535,min must not bigger than max",
            ),
            Code::E000001 => (500, "IEC.000001", "Internal Server Error!"),
            Code::E010226 => (500, "IEC.010226", "add key pair %s failed."),
            Code::E010228 => (500, "IEC.010228", "get key pairs failed"),
            Code::E010230 => (500, "IEC.010230", "import key pair %s failed."),
            Code::E020001 => (500, "IEC.020001", "delete subnets failed"),
            Code::E020101 => (500, "IEC.020101", "create the vpc failed"),
            Code::E020206 => (500, "IEC.020206", "get default security group failed"),
            Code::E020901 => (500, "IEC.020901", "get firewall list failed"),
            Code::E020902 => (500, "IEC.020902", "get firewall detail failed"),
            Code::E020904 => (500, "IEC.020904", "delete firewall failed"),
            Code::E020905 => (500, "IEC.020905", "create firewall failed"),
            Code::E020906 => (500, "IEC.020906", "update firewall failed"),
            Code::E020907 => (500, "IEC.020907", "update firewall rule failed"),
            Code::E020912 => (500, "IEC.020912", "generate response info failed"),
            Code::E020913 => (500, "IEC.020913", "can not delete firewall with binding subnet"),
            Code::E020914 => (500, "IEC.020914", "subnet has already bind with other firewall"),
            Code::E030002 => (500, "IEC.030002", "Service Unavailable"),
        }
    }

    /// The code string, e.g. `"IEC.020104"`.
    pub fn as_str(self) -> &'static str {
        self.spec().1
    }

    /// The HTTP status.
    pub fn status(self) -> StatusCode {
        StatusCode::from_u16(self.spec().0).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The error with its template; placeholders are left empty.
    pub fn err(self) -> ApiError {
        self.msg(&[])
    }

    /// The error with `%s`/`%d` placeholders filled from `args` in order (missing args → empty).
    pub fn msg(self, args: &[&str]) -> ApiError {
        let (_, code, template) = self.spec();
        let mut out = String::with_capacity(template.len() + 16);
        let mut args = args.iter();
        let mut rest = template;
        while let Some(pos) = rest.find('%') {
            out.push_str(&rest[..pos]);
            let after = &rest[pos + 1..];
            if after.starts_with('s') || after.starts_with('d') {
                out.push_str(args.next().copied().unwrap_or(""));
                rest = &after[1..];
            } else {
                out.push('%');
                rest = after;
            }
        }
        out.push_str(rest);
        ApiError::new(self.status(), code, out)
    }

    /// The error with a free-form message (for codes whose template is a fixed sentence but the
    /// emulator wants to say which field was wrong).
    pub fn detail(self, message: impl Into<String>) -> ApiError {
        ApiError::new(self.status(), self.as_str(), message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_fill_and_statuses_match() {
        let e = Code::E010008.msg(&["web"]);
        assert_eq!(e.status, StatusCode::CONFLICT);
        assert_eq!(e.code, "IEC.010008");
        assert_eq!(e.message, "EdgeCloud name(web) is already exist.");
        assert_eq!(Code::E020104.err().status, StatusCode::NOT_FOUND);
        assert_eq!(Code::E000002.err().status, StatusCode::UNAUTHORIZED);
        assert_eq!(Code::E000005.err().status, StatusCode::FORBIDDEN);
        assert_eq!(Code::E020913.err().status, StatusCode::INTERNAL_SERVER_ERROR);
    }
}

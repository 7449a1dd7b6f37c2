use super::*;

// ---------------------------------------------------------------------------------------------------------
// References
// ---------------------------------------------------------------------------------------------------------

pub(super) async fn read_secret_key(
    ctx: &Context,
    ns: &str,
    r: &SecretKeyRef,
) -> Result<SecretString, Error> {
    let what = format!("Secret {ns}/{} key {:?}", r.name, r.key);
    let secret = Api::<Secret>::namespaced(ctx.client.clone(), ns)
        .get_opt(&r.name)
        .await
        .map_err(|source| Error::ReadDependency {
            what: what.clone(),
            source,
        })?;
    let value = secret
        .as_ref()
        .and_then(|s| s.data.as_ref())
        .and_then(|d| d.get(&r.key))
        .map(|b| String::from_utf8_lossy(&b.0).into_owned());
    match value {
        Some(v) if !v.is_empty() => Ok(SecretString::new(v)),
        _ => Err(Error::Dependency {
            what: format!("{what} (missing or empty)"),
        }),
    }
}

/// Resolves the template's Vpc and SecurityGroup references (waiting until each has its cloud id) and
/// reads its Secrets.
pub(super) async fn resolve_refs(ec: &EdgeCloud, ctx: &Context) -> Result<ResolvedRefs, Error> {
    let ns = ec.namespace().unwrap_or_default();
    let net = &ec.spec.template.network;
    let vpc_id = match (&net.vpc_ref, &net.vpc_id) {
        (_, Some(id)) => id.clone(),
        (Some(r), None) => {
            let what = format!("Vpc {ns}/{}", r.name);
            let vpc = Api::<Vpc>::namespaced(ctx.client.clone(), &ns)
                .get_opt(&r.name)
                .await
                .map_err(|source| Error::ReadDependency {
                    what: what.clone(),
                    source,
                })?;
            let status = vpc.as_ref().and_then(|v| v.status.as_ref());
            match status.and_then(|s| s.vpc_id.clone()) {
                Some(id) if status.is_some_and(|s| is_condition_true(&s.conditions, READY)) => id,
                _ => {
                    return Err(Error::Dependency {
                        what: format!("{what} to be Ready"),
                    });
                }
            }
        }
        (None, None) => {
            return Err(Error::Dependency {
                what: "spec.template.network.vpcRef or vpcId".to_owned(),
            });
        }
    };
    let mut security_group_ids: Vec<String> = Vec::new();
    for r in &net.security_group_refs {
        let what = format!("SecurityGroup {ns}/{}", r.name);
        let sg = Api::<SecurityGroup>::namespaced(ctx.client.clone(), &ns)
            .get_opt(&r.name)
            .await
            .map_err(|source| Error::ReadDependency {
                what: what.clone(),
                source,
            })?;
        match sg.and_then(|g| g.status).and_then(|s| s.security_group_id) {
            Some(id) => {
                if !security_group_ids.contains(&id) {
                    security_group_ids.push(id);
                }
            }
            None => {
                return Err(Error::Dependency {
                    what: format!("{what} to have a cloud id"),
                });
            }
        }
    }
    for id in &net.security_group_ids {
        if !security_group_ids.contains(id) {
            security_group_ids.push(id.clone());
        }
    }
    let t = &ec.spec.template;
    let admin_password = match &t.admin_password_secret_ref {
        Some(r) => Some(read_secret_key(ctx, &ns, r).await?),
        None => None,
    };
    let user_data = match &t.user_data_secret_ref {
        Some(r) => {
            let raw = read_secret_key(ctx, &ns, r).await?;
            Some(SecretString::new(
                base64::engine::general_purpose::STANDARD.encode(raw.expose()),
            ))
        }
        None => None,
    };
    Ok(ResolvedRefs {
        vpc_id,
        security_group_ids,
        admin_password,
        user_data,
    })
}

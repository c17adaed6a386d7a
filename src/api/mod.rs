//! The HTTP faces of the local AWS services, on one hyper server
//! ([`http`]): the Lambda API with the local queue and stream endpoints
//! ([`lambda`]), the API Gateway stand-in for HTTP routes ([`routes`]), the
//! Step Functions API ([`states`]), and a
//! small client for the command line ([`client`]). The host below knows
//! nothing of HTTP: [`start_host`] hands it these faces.

pub(crate) mod aws;
pub mod client;
pub(crate) mod functions;
pub mod http;
pub mod lambda;
pub mod routes;
pub mod states;
pub(crate) mod versions;

use std::net::SocketAddr;
use std::sync::Arc;

use crate::host::{Faces, HostOptions, Listening, RouteTable, Services, TriggerHost};
use crate::runtime::Runtime;
use http::{Listener, ServerLimits, listen};

impl Listening for Listener {
    fn addr(&self) -> SocketAddr {
        Listener::addr(self)
    }
}

/// The faces on hyper, with the same [`ServerLimits`] for all.
#[derive(Clone, Debug, Default)]
pub struct HyperFaces {
    /// Connection-level limits.
    pub limits: ServerLimits,
}

impl Faces for HyperFaces {
    fn lambda_api(
        &self,
        addr: SocketAddr,
        runtime: Runtime,
        services: Services,
    ) -> anyhow::Result<Box<dyn Listening>> {
        let face = Arc::new(lambda::LambdaApi::new(runtime, services));
        Ok(Box::new(listen(
            addr,
            "lambdesk-api",
            self.limits.clone(),
            face,
        )?))
    }

    fn states_api(
        &self,
        addr: SocketAddr,
        machines: Arc<crate::host::state_machines::StateMachines>,
        env: crate::host::states::Env,
    ) -> anyhow::Result<Box<dyn Listening>> {
        let face = Arc::new(states::StepFunctionsApi::new(machines, env));
        Ok(Box::new(listen(
            addr,
            "lambdesk-sfn",
            self.limits.clone(),
            face,
        )?))
    }

    fn http_api(&self, addr: SocketAddr, routes: RouteTable) -> anyhow::Result<Box<dyn Listening>> {
        let face = Arc::new(routes::HttpApi::new(routes));
        Ok(Box::new(listen(
            addr,
            "lambdesk-http",
            self.limits.clone(),
            face,
        )?))
    }
}

/// Starts a trigger host whose Lambda API and HTTP API are served by hyper
/// with the default limits.
pub fn start_host(runtime: Runtime, options: HostOptions) -> anyhow::Result<TriggerHost> {
    TriggerHost::start(runtime, options, Arc::new(HyperFaces::default()))
}

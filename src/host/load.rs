//! Loading functions for `lambdesk serve`: a workspace folder's functions
//! with their settings and triggers, plus modules named on the command line
//! (their handler guessed from the exports when none was given).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::model::{FunctionConfig, Workspace};
use crate::runtime::{CodeError, DeployError, DeployInfo, Runtime};

/// What `lambdesk serve` serves.
#[derive(Clone, Debug, Default)]
pub struct ServeOptions {
    /// A workspace folder whose functions (with their settings) are served.
    pub workspace: Option<PathBuf>,
    /// Extra functions: name and module, with default settings.
    pub functions: Vec<(String, PathBuf)>,
    /// Address of the Lambda API.
    pub lambda_addr: Option<SocketAddr>,
    /// Folder for precompiled modules.
    pub cache_dir: Option<PathBuf>,
    /// Outbound grants added to every function's role (`--allow-outbound`).
    pub outbound: Vec<String>,
}

/// Adds `grants` a role does not have yet.
fn grant(config: &mut FunctionConfig, grants: &[String]) {
    for g in grants {
        if !config.role.outbound.contains(g) {
            config.role.outbound.push(g.clone());
        }
    }
}

/// Loads the functions into a runtime. Returns the names deployed, each with
/// its saved triggers.
pub fn load_functions(
    runtime: &Runtime,
    opts: &ServeOptions,
) -> anyhow::Result<Vec<(String, Vec<crate::model::Trigger>)>> {
    let mut names = Vec::new();
    if let Some(dir) = &opts.workspace {
        let path = dir.join(crate::model::workspace::WORKSPACE_FILE);
        let ws = match Workspace::load(&path)? {
            Some(ws) => ws,
            None => {
                // A folder with no workspace yet becomes one, so its queues,
                // streams and events stay in it.
                let ws = Workspace::default();
                ws.save(&path)
                    .with_context(|| format!("creating a workspace in {}", dir.display()))?;
                eprintln!("created an empty workspace at {}", path.display());
                ws
            }
        };
        runtime.set_cpu_share(ws.cpu_share);
        for f in ws.functions {
            let code = if f.code.is_absolute() {
                f.code.clone()
            } else {
                dir.join(&f.code)
            };
            let mut config = f.config;
            grant(&mut config, &opts.outbound);
            runtime
                .deploy(&f.name, &code, config)
                .map_err(|e| anyhow::anyhow!("{}: {e}", f.name))?;
            names.push((f.name, f.triggers));
        }
    }
    for (name, module) in &opts.functions {
        // A module, or source code (a folder or file of JavaScript) with
        // Lambda's default handler.
        let runtime_kind = crate::runtime::code::infer_language(module);
        let mut config = FunctionConfig {
            runtime: runtime_kind,
            handler: if runtime_kind.is_source() {
                crate::runtime::code::default_source_handler(module, runtime_kind)
            } else {
                FunctionConfig::default().handler
            },
            ..FunctionConfig::default()
        };
        grant(&mut config, &opts.outbound);
        deploy_guessing_handler(runtime, name, module, config, false)
            .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        names.push((name.clone(), Vec::new()));
    }
    Ok(names)
}

/// Deploys `module`; when no handler was given and the default one is not
/// exported, deploys again with the handler guessed from the exports.
pub fn deploy_guessing_handler(
    runtime: &Runtime,
    name: &str,
    module: &Path,
    mut config: FunctionConfig,
    handler_given: bool,
) -> Result<DeployInfo, DeployError> {
    match runtime.deploy(name, module, config.clone()) {
        Err(DeployError::Code(CodeError::NoEntryPoint { exports, .. })) if !handler_given => {
            match crate::runtime::guess_handler(&exports) {
                Some(h) => {
                    // `handler` is the documented second default; any other
                    // export is a guess, and the log says so.
                    let note = (h != "handler").then(|| {
                        format!(
                            "Handler `{h}` was taken from the module's exports (there is no `{}`); set the handler to choose another",
                            config.handler
                        )
                    });
                    config.handler = h;
                    runtime.deploy_noted(name, module, config, note)
                }
                None => Err(DeployError::Code(CodeError::NoEntryPoint {
                    handler: config.handler,
                    exports,
                })),
            }
        }
        other => other,
    }
}

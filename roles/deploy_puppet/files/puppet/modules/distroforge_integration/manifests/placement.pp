# Placement under Apache mod_wsgi (like Keystone, instead of the uwsgi
# service Debian's placement-api starts with 8 processes of 32 threads),
# with its database, its service user and placement endpoints.
class distroforge_integration::placement {
  include distroforge_integration::config

  $host = $distroforge_integration::config::host
  $url = $distroforge_integration::config::placement_url
  $region = $distroforge_integration::config::region
  $password = $distroforge_integration::config::placement_password
  $db_password = $distroforge_integration::config::placement_db_password

  # With their recommends, glance-api and placement-api pull ~150 packages
  # neither uses (scipy, matplotlib, gdal, gnome-keyring, ...): minutes of
  # apt on the first apply. Install what they depend on, no more.
  Package <| tag == 'placement-package' |> {
    install_options => ['--no-install-recommends'],
  }

  # Trap 2 again: utf8mb3 spelled out, or the database "drifts" every run.
  class { 'placement::db::mysql':
    password      => $db_password,
    charset       => 'utf8mb3',
    collate       => 'utf8mb3_general_ci',
    allowed_hosts => ['127.0.0.1', 'localhost'],
  }
  class { 'placement::db':
    database_connection => "mysql+pymysql://placement:${db_password}@127.0.0.1/placement?charset=utf8",
  }
  class { 'placement::logging':
    debug => false,
  }
  class { 'placement::keystone::auth':
    password     => $password,
    tenant       => $distroforge_integration::config::services_project,
    public_url   => $url,
    admin_url    => $url,
    internal_url => $url,
    region       => $region,
  }
  class { 'placement::keystone::authtoken':
    password             => $password,
    project_name         => $distroforge_integration::config::services_project,
    auth_url             => $distroforge_integration::config::keystone_url,
    www_authenticate_uri => $distroforge_integration::config::keystone_url,
    region_name          => $region,
  }
  class { 'placement': }
  class { 'placement::api':
    api_service_name => 'httpd',
  }
  class { 'placement::wsgi::apache':
    bind_host  => $host,
    servername => $host,
    workers    => $distroforge_integration::config::workers,
  }

  # As for keystone.service: Debian's uwsgi placement-api exits non-zero when
  # Puppet stops it, which leaves the unit failed and systemd "degraded".
  exec { 'reset-failed placement-api.service':
    command     => 'systemctl reset-failed placement-api.service',
    path        => ['/usr/bin', '/bin'],
    refreshonly => true,
    returns     => [0, 1],
    subscribe   => Service['placement-api'],
  }
}

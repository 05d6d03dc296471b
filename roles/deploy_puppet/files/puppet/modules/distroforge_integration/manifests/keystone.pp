# Keystone under Apache mod_wsgi with its database, the admin bootstrap
# (admin user, project, role, identity endpoints) and a demo project and
# user for Tempest.
class distroforge_integration::keystone {
  include distroforge_integration::config

  $host = $distroforge_integration::config::host
  $url = $distroforge_integration::config::keystone_url
  $region = $distroforge_integration::config::region

  # Trap 3: the keystone providers find the auth URL in $HOME/openrc (or
  # /root/openrc). Without it Keystone_user[admin] cannot check its
  # password and "changes" it on every run, so the file exists before any
  # keystone resource is evaluated.
  file { '/root/openrc':
    ensure    => file,
    owner     => 'root',
    group     => 'root',
    mode      => '0600',
    show_diff => false,
    content   => epp('distroforge_integration/openrc.epp', {
      'username'     => 'admin',
      'password'     => $distroforge_integration::config::admin_password,
      'project_name' => 'admin',
      'auth_url'     => $distroforge_integration::config::keystone_auth_url,
      'region'       => $region,
    }),
  }
  File['/root/openrc'] -> Class['keystone::bootstrap']

  # Trap 2: MariaDB 10.11 reports utf8 as utf8mb3, so the module's default
  # charset 'utf8' / collation 'utf8_general_ci' "drift" on every run.
  class { 'keystone::db::mysql':
    password      => $distroforge_integration::config::keystone_db_password,
    charset       => 'utf8mb3',
    collate       => 'utf8mb3_general_ci',
    allowed_hosts => ['127.0.0.1', 'localhost'],
  }
  class { 'keystone::db':
    database_connection => "mysql+pymysql://keystone:${distroforge_integration::config::keystone_db_password}@127.0.0.1/keystone?charset=utf8",
  }
  class { 'keystone::logging':
    debug => false,
  }
  class { 'keystone':
    service_name            => 'httpd',
    token_provider          => 'fernet',
    enable_fernet_setup     => true,
    enable_credential_setup => true,
    public_endpoint         => $url,
  }
  class { 'keystone::wsgi::apache':
    bind_host  => $host,
    servername => $host,
    workers    => $distroforge_integration::config::workers,
  }
  class { 'keystone::bootstrap':
    password     => $distroforge_integration::config::admin_password,
    public_url   => $url,
    admin_url    => $url,
    internal_url => $url,
    region       => $region,
  }

  # Debian's keystone package starts its own uwsgi keystone.service; Puppet
  # stops it (Keystone runs under Apache here) and uwsgi exits non-zero when
  # stopped, which leaves the unit failed and systemd "degraded". Clear that
  # state once, when Puppet stops the service.
  exec { 'reset-failed keystone.service':
    command     => 'systemctl reset-failed keystone.service',
    path        => ['/usr/bin', '/bin'],
    refreshonly => true,
    returns     => [0, 1],
    subscribe   => Service['keystone'],
  }

  # What Tempest's identity tests need: a project and a member user.
  keystone_tenant { $distroforge_integration::config::demo_project:
    ensure      => present,
    enabled     => true,
    description => 'distroforge demo project',
  }
  keystone_user { $distroforge_integration::config::demo_user:
    ensure   => present,
    enabled  => true,
    email    => 'demo@localhost',
    password => $distroforge_integration::config::demo_password,
  }
  keystone_user_role { "${distroforge_integration::config::demo_user}@${distroforge_integration::config::demo_project}":
    ensure => present,
    roles  => [$distroforge_integration::config::demo_role],
  }
  Class['keystone::bootstrap'] -> Keystone_tenant[$distroforge_integration::config::demo_project]
}

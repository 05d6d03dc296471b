# Glance (image service) as its own eventlet service, as Debian runs it,
# storing images in files, with its database, its service user and image
# endpoints, and a tiny image created through the API so a scenario proves
# the whole upload path works.
class distroforge_integration::glance {
  include distroforge_integration::config

  $host = $distroforge_integration::config::host
  $url = $distroforge_integration::config::glance_url
  $region = $distroforge_integration::config::region
  $password = $distroforge_integration::config::glance_password
  $db_password = $distroforge_integration::config::glance_db_password

  # With their recommends, glance-api and placement-api pull ~150 packages
  # neither uses (scipy, matplotlib, gdal, gnome-keyring, ...): minutes of
  # apt on the first apply. Install what they depend on, no more.
  Package <| tag == 'glance-package' |> {
    install_options => ['--no-install-recommends'],
  }

  # Trap 2 again: utf8mb3 spelled out, or the database "drifts" every run.
  class { 'glance::db::mysql':
    password      => $db_password,
    charset       => 'utf8mb3',
    collate       => 'utf8mb3_general_ci',
    allowed_hosts => ['127.0.0.1', 'localhost'],
  }
  class { 'glance::api::db':
    database_connection => "mysql+pymysql://glance:${db_password}@127.0.0.1/glance?charset=utf8",
  }
  class { 'glance::api::logging':
    debug => false,
  }
  class { 'glance::keystone::auth':
    password     => $password,
    tenant       => $distroforge_integration::config::services_project,
    public_url   => $url,
    admin_url    => $url,
    internal_url => $url,
    region       => $region,
  }
  class { 'glance::api::authtoken':
    password             => $password,
    project_name         => $distroforge_integration::config::services_project,
    auth_url             => $distroforge_integration::config::keystone_url,
    www_authenticate_uri => $distroforge_integration::config::keystone_url,
    region_name          => $region,
  }
  glance::backend::multistore::file { 'file':
    filesystem_store_datadir => '/var/lib/glance/images/',
  }
  # Glance's own reserved stores; without them it guesses from deprecated
  # options and warns on every start.
  class { 'glance::backend::reserved::staging':
    filesystem_store_datadir => '/var/lib/glance/staging/',
  }
  class { 'glance::backend::reserved::tasks':
    filesystem_store_datadir => '/var/lib/glance/tasks/',
  }
  class { 'glance::api':
    bind_host        => $host,
    workers          => $distroforge_integration::config::workers,
    enabled_backends => ['file:file'],
    default_backend  => 'file',
    public_endpoint  => $url,
  }

  # A tiny raw image, uploaded once through the API (by the glance service
  # user, as puppet-glance's provider does); a later run finds it by name.
  $tiny_image = '/var/lib/glance/distroforge-tiny.img'
  file { $tiny_image:
    ensure  => file,
    owner   => 'root',
    group   => 'root',
    mode    => '0644',
    content => "distroforge tiny image: not bootable, only proves the upload path\n",
    require => Anchor['glance::install::end'],
  }
  glance_image { 'distroforge-tiny':
    ensure           => present,
    container_format => 'bare',
    disk_format      => 'raw',
    is_public        => true,
    source           => $tiny_image,
    require          => [File[$tiny_image], Class['glance::keystone::auth']],
  }
}

# Apache with mod_wsgi for the API services.
class distroforge_integration::apache {
  class { 'apache':
    default_vhost => false,
  }
  # Trap 1 (Debian bookworm): puppetlabs-apache 5.5 installs
  # libapache2-mod-wsgi for mod_wsgi, a Python 2 package that no longer
  # exists; without this the first apply waits ~850 s for Keystone and fails.
  # Both the -py3 package and its module path must be given together.
  class { 'apache::mod::wsgi':
    package_name => 'libapache2-mod-wsgi-py3',
    mod_path     => '/usr/lib/apache2/modules/mod_wsgi.so',
  }
}

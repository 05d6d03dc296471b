# Settings every profile of a scenario reads, in the spirit of
# puppet-openstack-integration's openstack_integration::config.
# Values come from the hiera data the deploy_puppet role writes
# (/etc/distroforge/puppet/data/distroforge.yaml, mode 0600).
class distroforge_integration::config (
  String $host,
  String $admin_password,
  String $keystone_db_password,
  String $demo_password,
  String $glance_db_password,
  String $glance_password,
  String $placement_db_password,
  String $placement_password,
  String $region = 'RegionOne',
  String $demo_project = 'demo',
  String $demo_user = 'demo',
  String $demo_role = 'member',
  Integer $workers = 2,
) {
  $keystone_url = "http://${host}:5000"
  $keystone_auth_url = "${keystone_url}/v3"
  $glance_url = "http://${host}:9292"
  $placement_url = "http://${host}:8778"
  # The project of the service users (glance, placement); keystone::bootstrap
  # creates it under this, its default name.
  $services_project = 'services'
}

import pytest

from ansible_collections.distroforge.openstack.plugins.filter.node_plan import node_plan
from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._nodes.plan import addresses_in_use, make_plan

IMAGES = {"bookworm": {}, "trixie": {}}


def plan(nodes, subnet="10.89.42.0/24", **kw):
    return make_plan(nodes, images=IMAGES, default_image="bookworm", subnet=subnet, **kw)


def test_nodes_get_defaults_and_an_address_in_the_subnet():
    result = plan([{"name": "a", "groups": ["keystone"]}, {"name": "b", "image": "trixie"}])
    assert [n["name"] for n in result] == ["a", "b"]
    assert result[0]["image"] == "bookworm" and result[1]["image"] == "trixie"
    assert result[0]["groups"] == ["keystone"] and result[1]["groups"] == []
    for node in result:
        assert node["ip"].startswith("10.89.42.")
        assert 16 <= int(node["ip"].rsplit(".", 1)[1]) <= 254
    assert result[0]["ip"] != result[1]["ip"]


def test_a_node_keeps_its_address_whatever_else_is_in_the_list():
    alone = plan([{"name": "keystone-1"}])[0]["ip"]
    crowd = plan([{"name": f"n{i}"} for i in range(20)] + [{"name": "keystone-1"}])
    # n0..n19 could only displace keystone-1 by colliding with it; check the
    # address is unchanged or that a collision explains the move.
    moved = {n["ip"] for n in crowd if n["name"] != "keystone-1"}
    assert crowd[-1]["ip"] == alone or alone in moved


def test_given_addresses_are_kept_and_never_handed_out_twice():
    derived = plan([{"name": "a"}])[0]["ip"]
    result = plan([{"name": "b", "ip": derived}, {"name": "a"}])
    assert result[0]["ip"] == derived
    assert result[1]["ip"] != derived


@pytest.mark.parametrize(
    ("nodes", "message"),
    [
        ([{"name": "Bad_Name"}], "node_provision_nodes[0].name: 'Bad_Name' is not a valid node name"),
        ([{"name": "-x"}], "node_provision_nodes[0].name: '-x' is not a valid node name"),
        ([{"name": "a" * 64}], "is not a valid node name"),
        ([{"name": "a"}, {"name": "a"}], "node_provision_nodes[1].name: duplicate node name 'a'"),
        ([{"name": "a", "image": "sid"}], "node_provision_nodes[0].image: unknown image 'sid'"),
        ([{"name": "a", "ip": "10.0.0.1"}], "node_provision_nodes[0].ip: 10.0.0.1 is outside"),
        ([{"name": "a", "ip": "x"}], "node_provision_nodes[0].ip: 'x' is not an IP address"),
        ([{"name": "a", "ip": "10.89.42.20"}, {"name": "b", "ip": "10.89.42.20"}], "given to two nodes"),
        ([{"name": "a", "flavor": "big"}], "node_provision_nodes[0]: unknown key 'flavor'"),
        ([{"name": "a", "groups": "web"}], "node_provision_nodes[0].groups: must be a list"),
        (["a"], "node_provision_nodes[0]: each node must be a mapping"),
    ],
)
def test_bad_node_lists_fail_with_one_line_naming_the_field(nodes, message):
    with pytest.raises(InputError) as err:
        plan(nodes)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_bad_subnet_is_named():
    with pytest.raises(InputError, match="node_provision_podman_subnet: 'nope'"):
        plan([{"name": "a"}], subnet="nope")


def test_static_hosts_need_an_address_and_get_no_derived_one():
    with pytest.raises(InputError, match=r"node_provision_nodes\[0\].ip: 'a' is not in the inventory, so the static"):
        plan([{"name": "a"}], subnet=None, need_ip=True)
    assert plan([{"name": "a", "ip": "192.0.2.7"}], subnet=None, need_ip=True)[0]["ip"] == "192.0.2.7"


def test_static_hosts_of_the_inventory_keep_their_own_address():
    assert plan([{"name": "a"}], subnet=None, need_ip=True, known_hosts=["a"])[0]["ip"] is None


def test_a_name_another_driver_uses_is_refused_with_one_line():
    owners = {"web1": "podman", "db1": "openstack"}
    with pytest.raises(InputError) as err:
        plan([{"name": "db1"}, {"name": "web1"}], subnet=None, driver="openstack", node_drivers=owners)
    assert str(err.value) == (
        "node_provision_nodes[1].name: 'web1' is already a node of the podman driver; pick another name "
        "or remove that node first (node_provision_driver: podman, node_provision_state: absent)"
    )
    assert [n["name"] for n in plan([{"name": "web1"}], driver="podman", node_drivers=owners)] == ["web1"]


def test_a_full_subnet_is_reported():
    nodes = [{"name": f"n{i}"} for i in range(20)]
    with pytest.raises(InputError, match="no free address left"):
        plan(nodes, subnet="10.1.0.0/27")


def test_profiles_are_checked_and_default_to_default():
    profiles = {"default": {}, "builder": {}}
    result = plan([{"name": "a"}, {"name": "b", "profile": "builder"}], profiles=profiles)
    assert [n["profile"] for n in result] == ["default", "builder"]
    with pytest.raises(InputError, match=r"node_provision_nodes\[0\].profile: unknown profile 'root'"):
        plan([{"name": "a", "profile": "root"}], profiles=profiles)


def test_vm_sizes_are_whole_numbers_and_unset_by_default():
    result = plan([{"name": "a"}, {"name": "b", "memory": 2048, "cpus": "2", "disk": 20}])
    assert [(n["memory"], n["cpus"], n["disk"]) for n in result] == [(None, None, None), (2048, 2, 20)]
    for bad in (0, -1, "lots", 1.5, True):
        with pytest.raises(InputError) as err:
            plan([{"name": "a", "memory": bad}])
        assert str(err.value) == f"node_provision_nodes[0].memory: '{bad}' must be a positive whole number"


def inspected(name, address, running=True):
    """A container as `podman container inspect` shows it."""
    return {
        "Name": name,
        "State": {"Running": running},
        "NetworkSettings": {"Networks": {"distroforge": {"IPAddress": address}}},
    }


def test_an_address_a_running_container_holds_is_not_handed_out():
    derived = plan([{"name": "df-mol-builder-1"}])[0]["ip"]
    leftover = [inspected("df-leftover", derived), inspected("df-stopped", "10.89.42.99", running=False)]
    in_use = addresses_in_use(leftover)
    assert in_use == {derived: "df-leftover"}
    moved = plan([{"name": "df-mol-builder-1"}], in_use=in_use)[0]["ip"]
    assert moved != derived and moved.startswith("10.89.42.")
    # the node's own running container keeps its address
    assert plan([{"name": "df-mol-builder-1"}], in_use={derived: "df-mol-builder-1"})[0]["ip"] == derived


def test_a_given_address_a_running_container_holds_is_refused_naming_it():
    with pytest.raises(InputError) as err:
        plan([{"name": "a", "ip": "10.89.42.30"}], in_use={"10.89.42.30": "df-other"})
    assert str(err.value) == (
        "node_provision_nodes[0].ip: address 10.89.42.30 is in use by the running container 'df-other';"
        " give another address, or leave ip out to get a free one"
    )


def test_the_filter_reads_podman_inspect_data():
    derived = plan([{"name": "a"}])[0]["ip"]
    result = node_plan([{"name": "a"}], IMAGES, "bookworm", "10.89.42.0/24", containers=[inspected("b", derived)])
    assert result[0]["ip"] != derived
